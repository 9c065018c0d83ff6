"""Classroom mode: who may see, start and stop which job, and how much one class may ask of the cluster.

Pure Python over any `Backend`: `ClassroomBackend(inner, user)` is the backend as one user sees it.
- Students see (and cancel, steer, delete) only their own jobs; instructors see all and set the limits.
- Quotas, checked before any new training starts: concurrent jobs per student, max epochs, max model size
  (parameters), total queue length of the class, allowed datasets. Each refusal is one line saying what to change.
- The shared cache is natural: a job's id is its run id, so a config anyone in the class trained (or is
  training) is served to everyone who asks for it; attaching to it costs no quota.
Who follows which job is kept in the checkpoint store's index (keys `class:*`), so every app process agrees.
The limits live in `<checkpoints>/classroom.json`, written atomically, editable by instructors from the app.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import diskcache
import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..core.config import ConfigError, RunConfig, explain
from ..core.store import Store, read_json, write_json
from . import identity
from .base import Backend, JobError, JobInfo
from .datasets import check_dataset
from .identity import ENV_INSTRUCTORS, INSTRUCTOR, ROLES, STUDENT, User  # noqa: F401 - re-exported
from .status import ACTIVE

POLICY_FILE = "classroom.json"


class QuotaError(JobError):
    """A request over one of the class limits; the message says which and what to do."""


class Policy(BaseModel):
    """The class limits. Instructors are not bound by the per-student limits, only by the queue length."""

    model_config = ConfigDict(extra="forbid")

    max_jobs_per_student: int = Field(2, ge=1, le=1000, description="jobs a student may have queued or running")
    max_epochs: int = Field(30, ge=1, le=1000, description="epochs one job may ask for")
    max_params: int = Field(3_000_000, ge=1, description="parameters one model may have")
    max_queue: int = Field(200, ge=1, description="jobs queued or running in the whole class")
    datasets: list[str] = Field(default_factory=list, description="datasets students may use (empty: all)")
    instructors: list[str] = Field(default_factory=list, description="user names with the instructor role")
    defaults: dict = Field(default_factory=dict, description="settings the Train page starts from, e.g. epochs")

    @field_validator("defaults")
    @classmethod
    def _known_fields(cls, v: dict) -> dict:
        unknown = sorted(set(v) - set(RunConfig.model_fields))
        if unknown:
            raise ValueError(f"unknown setting(s) in defaults: {', '.join(unknown)}")
        return v

    @classmethod
    def load(cls, root: str | Path) -> Policy:
        p = Path(root) / POLICY_FILE
        if not p.exists():
            return cls()
        try:
            return cls(**read_json(p))
        except (ValueError, ValidationError) as e:
            msg = explain(e) if isinstance(e, ValidationError) else str(e)
            raise ConfigError(f"{p} is not a valid class policy: {msg}") from None

    def save(self, root: str | Path) -> None:
        write_json(Path(root) / POLICY_FILE, self.model_dump(mode="json"))

    def changed(self, **fields) -> Policy:
        """A copy with `fields` changed, validated; ConfigError with one line if a value is wrong."""
        try:
            return Policy(**{**self.model_dump(), **fields})
        except ValidationError as e:
            raise ConfigError(explain(e)) from None


def role_of(name: str, policy: Policy | None = None) -> str:
    """instructor if identity `name` is listed in the policy or in $AE_LAB_INSTRUCTORS, else student
    (engine.jobs.identity: how identities and list entries compare)."""
    return identity.role_of(name, policy.instructors if policy else ())


def model_params(cfg: RunConfig) -> int:
    """Parameter count of the model `cfg` builds, without allocating its weights (meta device)."""
    from ..core.models import build_model, n_params
    from ..data import load
    from ..data.ising import pending_shape

    known = {"mnist": (1, 28, 28), "fashion-mnist": (1, 28, 28), "synthetic": (1, 28, 28)}
    # the default Ising set's shape is known without generating it (the job does that, ~25 s)
    shape = known.get(cfg.dataset) or pending_shape(cfg.dataset) or load(cfg.dataset).shape
    with torch.device("meta"):
        return n_params(build_model(cfg, shape))


def check_new_job(policy: Policy, user: User, cfg: RunConfig, mine: int, total: int) -> None:
    """Raise QuotaError if `user` may not start training `cfg` while `mine` of their jobs and `total` jobs
    of the class are queued or running."""
    if total >= policy.max_queue:
        raise QuotaError(f"the class queue is full ({total} jobs queued or running, limit {policy.max_queue}): "
                         "try again when some finish")
    if user.instructor:
        return
    if policy.datasets and cfg.dataset not in policy.datasets:
        raise QuotaError(f"dataset '{cfg.dataset}' is not enabled for this class: use {', '.join(policy.datasets)}")
    if cfg.epochs > policy.max_epochs:
        raise QuotaError(f"{cfg.epochs} epochs is over this class's limit of {policy.max_epochs}: lower the epochs")
    n = model_params(cfg)
    if n > policy.max_params:
        raise QuotaError(f"this model has {n:,} parameters, over the class limit of {policy.max_params:,}: "
                         "use a smaller latent size or fewer/smaller hidden layers")
    if mine >= policy.max_jobs_per_student:
        raise QuotaError(f"you already have {mine} job(s) queued or running (limit {policy.max_jobs_per_student}): "
                         "wait for one to finish or cancel one")


class ClassroomBackend(Backend):
    """`inner` as seen by `user`: isolation and quotas on top of any backend (embedded or Ray)."""

    name = "classroom"

    def __init__(self, inner: Backend, user: User, store: Store | None = None):
        if user.role not in ROLES:
            raise ConfigError(f"unknown role '{user.role}': use {' or '.join(ROLES)}")
        if not user.name.strip():
            raise ConfigError("a user name is needed in classroom mode")
        self.inner, self.user = inner, user
        self.store = store or getattr(inner, "store", None) or Store()
        self._lock = diskcache.Lock(self.store.index, "class:lock", expire=30)  # expires if a process dies holding it

    def prewarm(self) -> None:
        self.inner.prewarm()

    # ---- policy -----------------------------------------------------------------------------------------
    @property
    def policy(self) -> Policy:
        return Policy.load(self.store.root)

    def set_policy(self, **fields) -> Policy:
        """Change the class limits (instructors only); returns the new policy."""
        if not self.user.instructor:
            raise JobError("only an instructor can change the class limits")
        p = self.policy.changed(**fields)
        p.save(self.store.root)
        return p

    # ---- who follows which job --------------------------------------------------------------------------
    def owners(self, job_id: str) -> list[str]:
        return list((self.store.index.get(f"class:{job_id}") or {}).get("owners", []))

    def starter(self, job_id: str) -> str | None:
        return (self.store.index.get(f"class:{job_id}") or {}).get("starter")

    def _follow(self, job_id: str, name: str, started: bool) -> None:
        with self.store.index.transact():
            e = self.store.index.get(f"class:{job_id}") or {"owners": [], "starter": None}
            if name not in e["owners"]:
                e["owners"].append(name)
            if started:
                e["starter"] = name
            self.store.index.set(f"class:{job_id}", e)

    def _unfollow(self, job_id: str, name: str) -> None:
        with self.store.index.transact():
            e = self.store.index.get(f"class:{job_id}")
            if e and name in e["owners"]:
                e["owners"].remove(name)
                if e["starter"] == name:
                    e["starter"] = e["owners"][0] if e["owners"] else None
                self.store.index.set(f"class:{job_id}", e)

    def _visible(self, job_id: str) -> bool:
        return self.user.instructor or self.user.name in self.owners(job_id)

    def _check(self, job_id: str) -> None:
        if not self._visible(job_id):
            raise JobError(f"unknown job '{job_id}'")  # the same answer as for an id that does not exist

    def _view(self, info: JobInfo) -> JobInfo:
        """Students see themselves as the owner; instructors see everyone following the job."""
        owners = self.owners(info.job_id)
        if self.user.instructor:
            return replace(info, owner=self.starter(info.job_id) or info.owner, owners=owners or info.owners)
        return replace(info, owner=self.user.name, owners=[self.user.name])

    def _active(self) -> tuple[int, int]:
        """(this user's jobs queued or running that they started, all jobs queued or running)."""
        active = [j for j in self.inner.jobs() if j.status in ACTIVE]
        return sum(self.starter(j.job_id) == self.user.name for j in active), len(active)

    # ---- the Backend contract ---------------------------------------------------------------------------
    def submit(self, cfg: RunConfig, owner: str | None = None) -> str:
        name = owner if (owner and self.user.instructor) else self.user.name
        check_dataset(self.user, cfg.dataset)  # before the shared cache: another's upload is never served
        job_id = cfg.run_id()
        with self._lock:
            if self._shared(job_id):  # in the cache or being trained: no new work, no quota
                self._follow(job_id, name, started=False)
                return self.inner.submit(cfg, owner=name)
            mine, total = self._active()
            check_new_job(self.policy, self.user, cfg, mine, total)
            self._follow(job_id, name, started=True)
            return self.inner.submit(cfg, owner=name)

    def _shared(self, job_id: str) -> bool:
        if self.store.is_complete(job_id):
            return True
        try:
            return self.inner.status(job_id).status in ACTIVE
        except JobError:
            return False

    def status(self, job_id: str) -> JobInfo:
        self._check(job_id)
        return self._view(self.inner.status(job_id))

    def jobs(self, owner: str | None = None) -> list[JobInfo]:
        who = owner if self.user.instructor else self.user.name
        out = []
        # the inner backend's owner list only grows (leaving a job is recorded here), so it narrows the scan
        for j in self.inner.jobs(owner=who):
            owners = self.owners(j.job_id)
            if who is None or who in owners:
                out.append(self._view(j))
        return out

    def metrics(self, job_id: str, since_step: int = 0) -> dict:
        self._check(job_id)
        return self.inner.metrics(job_id, since_step)

    def snapshot(self, job_id: str, epoch: int | None = None) -> dict | None:
        self._check(job_id)
        return self.inner.snapshot(job_id, epoch)

    def cancel(self, job_id: str) -> None:
        """Stop the job; a student's job that others also follow keeps running for them (the student leaves it)."""
        self._check(job_id)
        if self.user.instructor or self.owners(job_id) == [self.user.name]:
            self.inner.cancel(job_id)
        else:
            self._unfollow(job_id, self.user.name)

    def resume(self, job_id: str) -> str:
        self._check(job_id)
        info = self.inner.status(job_id)
        check_dataset(self.user, info.config.get("dataset", ""))  # an upload the student has let go of
        if info.status in ACTIVE:
            return job_id
        with self._lock:
            mine, total = self._active()
            cfg = RunConfig(**info.config)
            check_new_job(self.policy, self.user, cfg, mine, total)
            self._follow(job_id, self.user.name, started=True)
            return self.inner.resume(job_id)

    def steer(self, job_id: str, beta: float | None = None, lr: float | None = None) -> None:
        self._check(job_id)
        if not (self.user.instructor or self.owners(job_id) == [self.user.name]):
            raise JobError("other students follow this run too, so it cannot be steered: "
                           "change a setting (e.g. the seed) to train your own")
        self.inner.steer(job_id, beta=beta, lr=lr)

    def delete(self, job_id: str) -> None:
        """Delete the run; a student's run that others also follow stays in the shared cache for them."""
        self._check(job_id)
        if self.user.instructor or self.owners(job_id) == [self.user.name]:
            self.inner.delete(job_id)
            self.store.index.delete(f"class:{job_id}")
        else:
            self._unfollow(job_id, self.user.name)
