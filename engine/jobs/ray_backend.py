"""The Ray cluster backend: each job is a Ray task running `engine.core.trainer.train` on some node.

Pieces:
- `engine.jobs.ray_hub.Hub`: one named, detached async actor per checkpoint storage. It owns the jobs: launches
  their tasks, keeps their state and live progress (workers push the trainer's report events and snapshots to
  it, so the app never polls a worker's disk), relays cancel/steer requests, and watches each task's result.
  Every app process (every Streamlit server, the CLI, a load script) talks to the same hub by name.
- `engine.jobs.ray_task.run_job`: the task. Runs train(cfg, report, should_stop, controls=...) with the
  checkpoint store rooted at a directory every node can reach (atomic writes already). A small thread polls
  the hub for stop/β/lr.
- `RayBackend` (here): the `engine.jobs.Backend` the app uses; connects to a cluster by address
  ($AE_LAB_RAY_ADDRESS) or starts a local one for a demo.

Failure handling: tasks are never retried by Ray (max_retries=0); a worker or node that dies makes the
task fail with a system error, and the hub marks the job `failed` with a message saying it can be resumed
from its last epoch checkpoint. If the hub itself is gone (cluster restarted), jobs are rebuilt from the
checkpoint store: a run whose metadata still says "running" shows as `interrupted` (resumable).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import ray

from ..core.config import RunConfig
from ..core.store import Store, default_root
from .base import Backend, JobError, JobInfo, check_steer
from .progress import metrics_view
from .ray_hub import Hub, hub_name
from .ray_task import NAMESPACE
from .status import ACTIVE, CANCELLED, COMPLETED, FAILED, FINISHED, INTERRUPTED, RESUMABLE

__all__ = ["NAMESPACE", "RayBackend", "connect", "hub_name"]

ENV_ADDRESS = "AE_LAB_RAY_ADDRESS"  # e.g. "ray://head:10001" or "head:6379"; unset: start a local cluster
RAY_ENV_ADDRESS = "RAY_ADDRESS"  # Ray's own variable, honoured when AE_LAB_RAY_ADDRESS is not set
ENV_GPUS = "AE_LAB_RAY_GPUS"  # GPU fraction per job, e.g. 0.25 (default: 0.25 when the cluster has GPUs, else 0)
ENV_CPUS = "AE_LAB_RAY_CPUS"  # CPUs per job (default 1)
ENV_CANCEL_TIMEOUT = "AE_LAB_RAY_CANCEL_TIMEOUT"  # seconds to wait for a cooperative stop before force (default 15)
FORWARD_ENV = ("AE_LAB_DATA",)  # environment the workers need to see like the app does

STORE_STATUS = {"completed": COMPLETED, "stopped": CANCELLED, "failed": FAILED, "running": INTERRUPTED,
                "interrupted": INTERRUPTED}


def connect(address: str | None = None, **local) -> None:
    """Join the cluster at `address` (else $AE_LAB_RAY_ADDRESS, else Ray's own $RAY_ADDRESS); without one,
    start a local cluster.

    `local` goes to ray.init for the local case (num_cpus, num_gpus, ...). Does nothing if already connected.
    """
    if ray.is_initialized():
        return
    source = "the address given" if address else ENV_ADDRESS if os.environ.get(ENV_ADDRESS) else RAY_ENV_ADDRESS
    address = address or os.environ.get(ENV_ADDRESS) or os.environ.get(RAY_ENV_ADDRESS) or None
    env = {k: os.environ[k] for k in FORWARD_ENV if k in os.environ}
    runtime_env = {"env_vars": env} if env else None
    if address:
        try:
            ray.init(address=address, namespace=NAMESPACE, runtime_env=runtime_env, log_to_driver=False)
        except (ConnectionError, RuntimeError, ray.exceptions.RayError) as e:
            auth = "auth" in f"{e} {e.__cause__}".lower()
            hint = ("the cluster uses token authentication: set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN (or "
                    "~/.ray/auth_token) to the cluster's token" if auth else
                    f"is the head running (`ray start --head`) and reachable? check {source}")
            raise JobError(f"could not connect to the Ray cluster at {address}: {hint}") from None
    else:
        local.setdefault("include_dashboard", False)
        _start_local(dict(namespace=NAMESPACE, runtime_env=runtime_env, log_to_driver=False, **local))


def _start_local(kwargs: dict) -> None:
    """ray.init() that starts a local cluster. Ray's processes die with the *thread* that spawned them
    (PR_SET_PDEATHSIG), and Streamlit runs each page run in a short-lived thread, so off the main thread
    the cluster is started from a daemon thread that lives as long as the process."""
    if threading.current_thread() is threading.main_thread():
        ray.init(**kwargs)
        return
    ready, failure = threading.Event(), []

    def keeper() -> None:
        try:
            ray.init(**kwargs)
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            failure.append(e)
        ready.set()
        if not failure:
            threading.Event().wait()  # keep this thread (the parent of Ray's processes) alive

    threading.Thread(target=keeper, name="ray-local-cluster", daemon=True).start()
    ready.wait()
    if failure:
        raise failure[0]


class RayBackend(Backend):
    """Jobs as Ray tasks on a cluster; see the module docstring and docs/cluster.md."""

    name = "ray"

    def __init__(self, address: str | None = None, *, num_gpus: float | None = None, num_cpus: float | None = None,
                 root: str | Path | None = None, cancel_timeout: float | None = None, **local):
        connect(address, **local)
        self.store = Store(root or default_root())
        self.root = str(self.store.root.resolve())
        have_gpu = ray.cluster_resources().get("GPU", 0) > 0
        gpus = num_gpus if num_gpus is not None else _env_float(ENV_GPUS, 0.25 if have_gpu else 0.0)
        cpus = num_cpus if num_cpus is not None else _env_float(ENV_CPUS, 1.0)
        if gpus < 0 or gpus > 1 or cpus <= 0:
            raise JobError(f"each job needs a GPU share in [0, 1] and some CPUs, got GPU {gpus}, CPU {cpus}: "
                           f"set {ENV_GPUS} / {ENV_CPUS}")
        if gpus > 0 and not have_gpu:
            raise JobError(f"jobs ask for {gpus} GPU but the Ray cluster has no GPU: set {ENV_GPUS}=0")
        self.opts = {"num_cpus": cpus, "num_gpus": gpus}
        self._check_feasible()
        self.cancel_timeout = cancel_timeout if cancel_timeout is not None else _env_float(ENV_CANCEL_TIMEOUT, 15.0)
        self.hub_name = hub_name(self.root)
        self.hub = self._hub()

    def _hub(self, tries: int = 20):
        """The storage's hub, created on first use; waits out a hub that was just killed."""
        for i in range(tries):
            hub = Hub.options(name=self.hub_name, namespace=NAMESPACE, lifetime="detached", get_if_exists=True,
                              max_concurrency=1000).remote(self.root, self.hub_name)
            try:
                ray.get(hub.ping.remote(), timeout=60)
                return hub
            except ray.exceptions.RayActorError:
                if i == tries - 1:
                    raise
                time.sleep(0.25)

    def _check_feasible(self) -> None:
        """Refuse, with one line, a per-job request that no live node can ever hold (Ray would queue it forever)."""
        need = {"CPU": self.opts["num_cpus"], "GPU": self.opts["num_gpus"]}
        nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
        if any(all(r.get(k, 0) >= v for k, v in need.items() if v > 0) for r in nodes):
            return
        biggest = max(nodes, key=lambda r: (r.get("GPU", 0), r.get("CPU", 0)), default={})
        raise JobError(f"each job asks for {need['CPU']:g} CPU and {need['GPU']:g} GPU, but no node of the Ray cluster "
                       f"has that much (the largest has {biggest.get('CPU', 0):g} CPU, {biggest.get('GPU', 0):g} GPU): "
                       f"lower {ENV_CPUS} / {ENV_GPUS}, or add a bigger node")

    # ---- the Backend contract ---------------------------------------------------------------------------
    def submit(self, cfg: RunConfig, owner: str | None = None) -> str:
        job_id = cfg.run_id()
        cfg_json = cfg.model_dump(mode="json")
        if self.store.is_complete(job_id):
            m = self.store.meta(job_id) or {}
            steps = self.store.history(job_id)["steps"]
            now = time.time()
            ray.get(self.hub.record.remote(job_id, cfg_json, owner, {
                "status": COMPLETED, "cached": True, "epoch": m.get("epochs_done", cfg.epochs), "epochs": cfg.epochs,
                "step": steps[-1]["step"] if steps else 0, "steps_total": steps[-1]["step"] if steps else 0,
                "latest": steps[-1] if steps else {}, "message": "already trained — loaded from cache",
                "started": now, "finished": now}))
        else:
            self._check_feasible()  # nodes come and go: a job no node can hold would wait forever
            ray.get(self.hub.submit.remote(job_id, cfg_json, owner, self.opts))
        return job_id

    def status(self, job_id: str) -> JobInfo:
        d = ray.get(self.hub.info.remote(job_id))
        if d is not None:
            return JobInfo(**d)
        m = self.store.meta(job_id)
        if m is None:
            raise JobError(f"unknown job '{job_id}'")
        return self._from_meta(m)

    def jobs(self, owner: str | None = None) -> list[JobInfo]:
        out = [JobInfo(**d) for d in ray.get(self.hub.infos.remote(owner))]
        if owner is None:  # runs trained earlier (other backend, before a cluster restart) are jobs too
            known = {j.job_id for j in out}
            out += [self._from_meta(m) for m in self.store.runs() if m["run_id"] not in known]
        return sorted(out, key=lambda j: j.created, reverse=True)

    def metrics(self, job_id: str, since_step: int = 0) -> dict:
        m = ray.get(self.hub.metrics.remote(job_id, since_step))
        if m is not None:
            return m
        self.status(job_id)  # unknown id -> JobError
        return metrics_view(self.store.history(job_id), since_step)

    def snapshot(self, job_id: str, epoch: int | None = None) -> dict | None:
        s = ray.get(self.hub.snapshot.remote(job_id, epoch))
        return s if s is not None else self.store.snapshot(job_id, epoch)

    def cancel(self, job_id: str) -> None:
        try:
            ray.get(self.hub.cancel.remote(job_id, self.cancel_timeout))
        except ray.exceptions.RayTaskError as e:
            if isinstance(e.cause, KeyError):
                self.status(job_id)  # raises for unknown; a store-only job is already finished
                return
            raise

    def resume(self, job_id: str) -> str:
        info = self.status(job_id)
        if info.status in ACTIVE:
            return job_id
        if info.status not in RESUMABLE:
            raise JobError(f"job {job_id} is {info.status}: only failed, cancelled or interrupted jobs can resume")
        self._check_feasible()
        if ray.get(self.hub.info.remote(job_id)) is None:  # known only from the store: register it first
            ray.get(self.hub.record.remote(job_id, info.config, info.owner, {"status": info.status}))
        ray.get(self.hub.resume.remote(job_id, info.owner, self.opts))
        return job_id

    def steer(self, job_id: str, beta: float | None = None, lr: float | None = None) -> None:
        info = self.status(job_id)
        check_steer(job_id, info.config, beta, lr)
        status = info.status
        if status not in FINISHED:
            try:
                status = ray.get(self.hub.steer.remote(job_id, beta, lr))
            except ray.exceptions.RayTaskError as e:
                if not isinstance(e.cause, KeyError):
                    raise
        if status in FINISHED:
            raise JobError(f"job {job_id} is {status}: only a queued or running job can be steered")

    def delete(self, job_id: str) -> None:
        ray.get(self.hub.forget.remote(job_id, self.cancel_timeout))
        self.store.delete(job_id)

    # ---- extras -----------------------------------------------------------------------------------------
    def worker(self, job_id: str) -> dict:
        """Where the job runs: pid, node id, host, the Ray resources it holds, whether CUDA is visible."""
        return ray.get(self.hub.worker.remote(job_id))

    def cluster(self) -> dict:
        """Nodes and resources of the cluster, for the dashboard's status line."""
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        return {"nodes": len(nodes), "resources": ray.cluster_resources(), "available": ray.available_resources(),
                "job_gpus": self.opts["num_gpus"], "job_cpus": self.opts["num_cpus"]}

    def close(self, kill_hub: bool = False) -> None:
        """Forget the hub handle; with kill_hub, end the hub actor too (its jobs keep their checkpoints)."""
        if kill_hub:
            try:
                ray.kill(self.hub)
            except Exception:  # noqa: BLE001 - already gone
                pass

    @staticmethod
    def _from_meta(m: dict) -> JobInfo:
        status = STORE_STATUS.get(m.get("status", ""), INTERRUPTED)
        cfg = m.get("config") or {}
        msg = m.get("message") or ""
        if status == INTERRUPTED:
            msg = msg or f"interrupted; resume continues from epoch {m.get('epochs_done', 0)}"
        return JobInfo(job_id=m["run_id"], status=status, config=cfg, epoch=m.get("epochs_done", 0),
                       epochs=m.get("epochs", cfg.get("epochs", 0)), message=msg, owner=m.get("owner"),
                       owners=[m["owner"]] if m.get("owner") else [], created=m.get("created", 0.0),
                       finished=m.get("updated"))


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        return float(raw)
    except ValueError:
        raise JobError(f"{name} must be a number, got '{raw}'") from None
