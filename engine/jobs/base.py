"""The job-backend contract shared by the app and the CLI.

A *job* trains one run (one RunConfig) in the background. Its id is the run id, so submitting a config
that is already running attaches to that job, and one that is complete finishes at once from the cache.
Implementations: `engine.jobs.embedded.EmbeddedBackend` (default, worker processes on this machine) and
`engine.jobs.ray_backend.RayBackend` (a Ray cluster). Pick one with `engine.jobs.get_backend()`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from .status import ACTIVE, CANCELLED, COMPLETED, FAILED, FINISHED, INTERRUPTED, QUEUED, RESUMABLE, RUNNING, STATUSES

if TYPE_CHECKING:  # annotations only: importing this module (e.g. from the supervisor) must not load torch
    from ..core.config import RunConfig

__all__ = ["ACTIVE", "CANCELLED", "COMPLETED", "FAILED", "FINISHED", "INTERRUPTED", "QUEUED", "RESUMABLE", "RUNNING",
           "STATUSES", "Backend", "JobError", "JobInfo", "check_steer"]


class JobError(RuntimeError):
    """A request the backend refuses (unknown job, quota exceeded, ...); the message is for the user."""


@dataclass
class JobInfo:
    job_id: str  # == run_id of the config
    status: str  # one of STATUSES
    config: dict  # RunConfig as JSON
    epoch: int = 0  # epochs finished
    epochs: int = 0  # epochs asked for
    step: int = 0  # optimizer steps done
    steps_total: int = 0
    latest: dict = field(default_factory=dict)  # the latest step metrics (recon, kl, loss, beta, lr, ...)
    eta_s: float | None = None
    message: str = ""  # why it failed / what happened (one line)
    cached: bool = False  # finished from the checkpoint cache without training
    owner: str | None = None  # who submitted it (classroom mode)
    owners: list[str] = field(default_factory=list)  # everyone who submitted this config
    created: float = 0.0
    started: float | None = None
    finished: float | None = None

    @property
    def done(self) -> bool:
        return self.status in FINISHED

    @property
    def progress(self) -> float:
        """Fraction done in [0, 1]: optimizer steps when known, else epochs; 1 for a completed job."""
        if self.status == COMPLETED:
            return 1.0
        frac = self.step / self.steps_total if self.steps_total else (self.epoch / self.epochs if self.epochs else 0.0)
        return min(max(frac, 0.0), 1.0)

    def to_json(self) -> dict:
        return asdict(self)


class Backend(ABC):
    """Runs jobs. Every method is safe to call from any process that shares the checkpoint folder."""

    name: str = "abstract"

    @abstractmethod
    def submit(self, cfg: RunConfig, owner: str | None = None) -> str:
        """Start (or queue) training `cfg`; returns the job id at once. Complete → finished from cache;
        already queued/running → attaches to that job."""

    @abstractmethod
    def status(self, job_id: str) -> JobInfo:
        """Current state and progress; raises JobError for an unknown id."""

    @abstractmethod
    def jobs(self, owner: str | None = None) -> list[JobInfo]:
        """All jobs (of `owner` if given), newest first."""

    @abstractmethod
    def metrics(self, job_id: str, since_step: int = 0) -> dict:
        """{"steps": [points with step > since_step], "epochs": [...], "events": [...]}: cheap to poll."""

    @abstractmethod
    def snapshot(self, job_id: str, epoch: int | None = None) -> dict | None:
        """The trainer's snapshot of `epoch` (default latest): uint8 images, latent codes, labels."""

    @abstractmethod
    def cancel(self, job_id: str) -> None:
        """Stop at the next step, keeping the last epoch checkpoint."""

    @abstractmethod
    def resume(self, job_id: str) -> str:
        """Continue a failed/cancelled/interrupted job from its last epoch checkpoint."""

    @abstractmethod
    def steer(self, job_id: str, beta: float | None = None, lr: float | None = None) -> None:
        """Change β and/or the learning rate of a running job, from its next step on."""

    @abstractmethod
    def delete(self, job_id: str) -> None:
        """Forget the job and delete its checkpoint (cancels it first if running)."""

    def prewarm(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Get ready so the next submit starts fast (e.g. a preloaded worker process). Optional."""

    def wait(self, job_id: str, timeout: float | None = None, poll: float = 0.2) -> JobInfo:
        """Block until the job is finished (or `timeout` seconds pass); returns its last JobInfo."""
        import time

        t0 = time.monotonic()
        while True:
            info = self.status(job_id)
            if info.done or (timeout is not None and time.monotonic() - t0 > timeout):
                return info
            time.sleep(poll)


def check_steer(job_id: str, config: dict, beta: float | None, lr: float | None) -> None:
    """Raise JobError unless (beta, lr) is a change a running job with `config` can take (every backend)."""
    if beta is None and lr is None:
        raise JobError("nothing to change: give a new beta and/or learning rate")
    if beta is not None and not (0 <= beta <= 1000):
        raise JobError(f"beta must be between 0 and 1000 (it weighs the KL term), got {beta}")
    if lr is not None and not (0 < lr <= 10):
        raise JobError(f"learning rate must be > 0 and ≤ 10, got {lr}")
    if beta is not None and not config.get("variational"):
        raise JobError(f"job {job_id} trains an autoencoder without a KL term: β only steers a VAE")
