"""The Ray cluster backend: each job is a Ray task running `engine.core.trainer.train` on some node.

Pieces:
- `Hub`: one named, detached async actor per checkpoint storage. It owns the jobs: launches their tasks,
  keeps their state and live progress (workers push step/epoch events and snapshots to it, so the app never
  polls a worker's disk), relays cancel/steer requests, and watches each task's result. Every app process
  (every Streamlit server, the CLI, a load script) talks to the same hub by name, so they share one view.
- `_run`: the task. Runs train(cfg, report, should_stop, controls=...) with the checkpoint store rooted at a
  directory every node can reach (atomic writes already). A small thread polls the hub for stop/β/lr.
- `RayBackend`: the `engine.jobs.Backend` the app uses; connects to a cluster by address
  ($AE_LAB_RAY_ADDRESS) or starts a local one for a demo.

Failure handling: tasks are never retried by Ray (max_retries=0); a worker or node that dies makes the
task fail with a system error, and the hub marks the job `failed` with a message saying it can be resumed
from its last epoch checkpoint. If the hub itself is gone (cluster restarted), jobs are rebuilt from the
checkpoint store: a run whose metadata still says "running" shows as `interrupted` (resumable).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
import time
from pathlib import Path

import ray

from ..core.config import RunConfig
from ..core.store import Store, default_root
from .base import (
    CANCELLED,
    COMPLETED,
    FAILED,
    FINISHED,
    INTERRUPTED,
    QUEUED,
    RESUMABLE,
    RUNNING,
    Backend,
    JobError,
    JobInfo,
    check_steer,
)

NAMESPACE = "ae_lab"
ENV_ADDRESS = "AE_LAB_RAY_ADDRESS"  # e.g. "ray://head:10001" or "head:6379"; unset: start a local cluster
ENV_GPUS = "AE_LAB_RAY_GPUS"  # GPU fraction per job, e.g. 0.25 (default: 0.25 when the cluster has GPUs, else 0)
ENV_CPUS = "AE_LAB_RAY_CPUS"  # CPUs per job (default 1)
ENV_CANCEL_TIMEOUT = "AE_LAB_RAY_CANCEL_TIMEOUT"  # seconds to wait for a cooperative stop before force (default 15)
SNAPSHOTS_KEPT = 8  # per running job, in the hub's memory; older epochs are read from the checkpoint store
METRICS_KEPT = 200  # finished jobs whose step metrics stay in the hub; older ones are read from the store
FORWARD_ENV = ("AE_LAB_DATA",)  # environment the workers need to see like the app does


def hub_name(root: str | Path) -> str:
    """One hub per checkpoint storage: two classes on one cluster with different storage never mix."""
    return "ae-lab-hub-" + hashlib.sha1(str(Path(root).resolve()).encode()).hexdigest()[:10]


# ---------------------------------------------------------------------------------------------------------
# The task that trains one job on a worker
# ---------------------------------------------------------------------------------------------------------


class _Controls:
    """Worker side of cancel/steer: a daemon thread polls the hub, so the training loop only reads locals."""

    def __init__(self, hub, job_id: str, attempt: int, every: float = 0.3):
        self.hub, self.job_id, self.attempt, self.every = hub, job_id, attempt, every
        self.stop, self.values, self.hub_lost = False, {}, False
        self._quit = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._quit.is_set():
            try:
                c = ray.get(self.hub.controls.remote(self.job_id, self.attempt), timeout=10)
                self.stop, self.values = bool(c.get("stop")), c
            except ray.exceptions.RayActorError:  # the hub is gone: nobody can see or stop this job
                self.stop = self.hub_lost = True  # stop cleanly; the run shows as interrupted, resumable
            except Exception:  # noqa: BLE001 - a slow hub must not kill training; try again
                pass
            self._quit.wait(self.every)

    def should_stop(self) -> bool:
        return self.stop

    def controls(self) -> dict:
        return {k: self.values.get(k) for k in ("beta", "lr")}

    def close(self) -> None:
        self._quit.set()


@ray.remote(max_retries=0)
def _run(cfg_json: dict, root: str, hub: str, job_id: str, attempt: int, threads: int) -> dict:
    import torch

    from ..core.trainer import train

    handle = ray.get_actor(hub, namespace=NAMESPACE)
    ctx = ray.get_runtime_context()
    resources = {k: v for k, v in ctx.get_assigned_resources().items() if not k.startswith("node:")}
    cuda = torch.cuda.is_available()
    handle.started.remote(job_id, attempt, {"pid": os.getpid(), "node": ctx.get_node_id(), "resources": resources,
                                           "cuda": cuda, "host": os.uname().nodename})
    torch.set_num_threads(max(1, threads))
    cfg = RunConfig(**cfg_json)
    if cfg.device == "auto" and not cuda:
        cfg = cfg.model_copy(update={"device": "cpu"})  # a logical GPU share without CUDA (tests, CPU nodes)
    ctl = _Controls(handle, job_id, attempt)
    last = []

    def report(event: dict) -> None:
        if event.get("type") != "done":
            last[:] = [handle.push.remote(job_id, attempt, event)]

    store = Store(root)
    try:
        result = train(cfg, report, ctl.should_stop, store=store, controls=ctl.controls)
        if ctl.hub_lost and result.status == "stopped":  # nobody stopped it: not a cancel, an interruption
            store.set_meta(job_id, status="interrupted",
                           message=f"the cluster's job table was lost; resume continues from epoch {result.epochs}")
            return result.to_json()
        if last:
            ray.get(last[0], timeout=30)  # every event is in the hub before the job is marked finished
    finally:
        ctl.close()
    return result.to_json()


# ---------------------------------------------------------------------------------------------------------
# The hub: job table, live progress, controls
# ---------------------------------------------------------------------------------------------------------


@ray.remote(num_cpus=0)
class Hub:
    """Owns the jobs of one checkpoint storage. All methods are cheap and never touch the disk."""

    def __init__(self, root: str, name: str):
        self.root, self.name = root, name
        self.jobs: dict[str, dict] = {}  # job_id -> JobInfo fields
        self.live: dict[str, dict] = {}  # job_id -> steps, epochs, events, snaps, controls, ref, attempt, worker
        self.finished: list[str] = []  # jobs in the order they finished, to bound the hub's memory

    # ---- launching ------------------------------------------------------------------------------------
    def _launch(self, job_id: str, opts: dict) -> None:
        live = self.live[job_id]
        live["attempt"] += 1
        live.update(stop=False, forced=False, ctl={}, opts=opts, done=asyncio.Event(), worker={}, t_step=None)
        info = self.jobs[job_id]
        info.update(status=QUEUED, message="", finished=None, started=None, cached=False, eta_s=None)
        threads = max(1, int(opts.get("num_cpus") or 1))
        ref = _run.options(**opts).remote(info["config"], self.root, self.name, job_id, live["attempt"], threads)
        live["ref"] = ref
        asyncio.get_running_loop().create_task(self._watch(job_id, live["attempt"], ref))

    async def _watch(self, job_id: str, attempt: int, ref) -> None:
        """Wait for the task; turn its result or its failure into the job's final state."""
        status, message, result, died = FAILED, "", None, False
        try:
            result = await ref
            status = {"completed": COMPLETED, "stopped": CANCELLED, "diverged": FAILED}[result["status"]]
            message = result.get("message", "")
        except ray.exceptions.TaskCancelledError:
            status, message = CANCELLED, "cancelled"
        except ray.exceptions.RayTaskError as e:  # the training code raised: show its one-line message
            cause = getattr(e, "cause", None) or e
            message = str(cause).strip().splitlines()[-1] if str(cause).strip() else type(cause).__name__
        except ray.exceptions.RayError as e:  # worker process or node died, object lost, ...
            message, died = f"the Ray worker running this job died ({type(e).__name__})", True
        live, info = self.live.get(job_id), self.jobs.get(job_id)
        if live is None or info is None or live["attempt"] != attempt:
            return  # forgotten or relaunched meanwhile
        if live["stop"] and status == FAILED and result is None:
            status, message = CANCELLED, "cancelled (the worker was stopped by force)"
        if died and status == FAILED:
            message += (f"; resume continues from the checkpoint of epoch {info['epoch']}" if info["epoch"]
                        else "; no epoch had finished, so resume starts over")
        if result:
            info["epoch"] = result.get("epochs", info["epoch"])
            info["cached"] = bool(result.get("cached"))
            if info["cached"]:
                message = message or "already trained — loaded from cache"
        info.update(status=status, message=message, finished=time.time(), eta_s=None)
        live["snaps"] = {}  # the store has every epoch's snapshot; keep the hub small
        live["done"].set()
        self._retire(job_id)

    def _retire(self, job_id: str) -> None:
        """Keep the step metrics of the latest METRICS_KEPT finished jobs; older ones come from the store."""
        if job_id in self.finished:
            self.finished.remove(job_id)
        self.finished.append(job_id)
        while len(self.finished) > METRICS_KEPT:
            old = self.live.get(self.finished.pop(0))
            if old and old.get("done") is not None and old["done"].is_set():
                old.update(steps=[], epochs=[], events=[])

    # ---- requests from the app --------------------------------------------------------------------------
    async def submit(self, job_id: str, cfg_json: dict, owner: str | None, opts: dict) -> dict:
        info = self.jobs.get(job_id)
        if info and info["status"] in (QUEUED, RUNNING):
            self._add_owner(info, owner)
            return dict(info)
        if info is None:
            info = self.jobs[job_id] = self._new(job_id, cfg_json, owner)
            self.live[job_id] = {"attempt": 0, "steps": [], "epochs": [], "events": [], "snaps": {}}
        else:
            self._add_owner(info, owner)
            info["config"] = cfg_json
        self._launch(job_id, opts)
        return dict(info)

    async def record(self, job_id: str, cfg_json: dict, owner: str | None, fields: dict) -> dict:
        """A job that needs no task (served from the cache, or known only from the store)."""
        info = self.jobs.get(job_id)
        if info and info["status"] in (QUEUED, RUNNING):
            self._add_owner(info, owner)
            return dict(info)
        if info and info["status"] == COMPLETED:  # trained here before: only the cache flag changes
            fields = {k: v for k, v in fields.items() if k in ("cached", "message")}
        info = info or self._new(job_id, cfg_json, owner)
        self._add_owner(info, owner)
        info.update(fields)
        self.jobs[job_id] = info
        self.live.setdefault(job_id, {"attempt": 0, "steps": [], "epochs": [], "events": [], "snaps": {}})
        return dict(info)

    async def resume(self, job_id: str, owner: str | None, opts: dict) -> dict:
        info = self.jobs.get(job_id)
        if info is None:
            raise KeyError(job_id)
        if info["status"] in (QUEUED, RUNNING):
            return dict(info)
        self._add_owner(info, owner)
        self._launch(job_id, opts)
        return dict(info)

    async def cancel(self, job_id: str, timeout: float) -> str:
        info, live = self.jobs.get(job_id), self.live.get(job_id)
        if info is None:
            raise KeyError(job_id)
        if info["status"] not in (QUEUED, RUNNING):
            return info["status"]
        live["stop"] = True
        if info["status"] == QUEUED and not live["worker"]:
            ray.cancel(live["ref"])  # still waiting for resources: drop it from Ray's queue
        asyncio.get_running_loop().create_task(self._force_after(job_id, live["attempt"], timeout))
        return info["status"]

    async def _force_after(self, job_id: str, attempt: int, timeout: float) -> None:
        live = self.live.get(job_id)
        try:
            await asyncio.wait_for(live["done"].wait(), timeout)
        except TimeoutError:
            live = self.live.get(job_id)
            if live and live["attempt"] == attempt and not live["done"].is_set():
                live["forced"] = True
                ray.cancel(live["ref"], force=True)

    async def steer(self, job_id: str, beta: float | None, lr: float | None) -> str:
        info, live = self.jobs.get(job_id), self.live.get(job_id)
        if info is None:
            raise KeyError(job_id)
        if info["status"] in (QUEUED, RUNNING):
            if beta is not None:
                live["ctl"]["beta"] = float(beta)
            if lr is not None:
                live["ctl"]["lr"] = float(lr)
        return info["status"]

    async def forget(self, job_id: str, timeout: float) -> None:
        """Stop the job (by force after `timeout`) and drop it; returns when its task has ended."""
        info, live = self.jobs.get(job_id), self.live.get(job_id)
        if info and info["status"] in (QUEUED, RUNNING):
            await self.cancel(job_id, timeout)
            try:
                await asyncio.wait_for(live["done"].wait(), timeout + 10)
            except TimeoutError:
                pass
        self.jobs.pop(job_id, None)
        self.live.pop(job_id, None)

    # ---- reads ------------------------------------------------------------------------------------------
    async def info(self, job_id: str) -> dict | None:
        info = self.jobs.get(job_id)
        return dict(info) if info else None

    async def infos(self, owner: str | None = None) -> list[dict]:
        out = [dict(i) for i in self.jobs.values() if owner is None or owner in i["owners"]]
        return sorted(out, key=lambda i: i["created"], reverse=True)

    async def metrics(self, job_id: str, since_step: int = 0) -> dict | None:
        live = self.live.get(job_id)
        if live is None or not (live["steps"] or live["epochs"]):
            return None
        return {"steps": [s for s in live["steps"] if s["step"] > since_step], "epochs": list(live["epochs"]),
                "events": list(live["events"]), "attempt": live["attempt"], "info": dict(live.get("info") or {})}

    async def snapshot(self, job_id: str, epoch: int | None = None) -> dict | None:
        snaps = (self.live.get(job_id) or {}).get("snaps") or {}
        if not snaps:
            return None
        return snaps.get(max(snaps) if epoch is None else epoch)

    async def worker(self, job_id: str) -> dict:
        return dict((self.live.get(job_id) or {}).get("worker") or {})

    async def ping(self) -> str:
        return self.name

    # ---- calls from workers -----------------------------------------------------------------------------
    async def controls(self, job_id: str, attempt: int) -> dict:
        live = self.live.get(job_id)
        if live is None or live["attempt"] != attempt:
            return {"stop": True}  # forgotten or superseded: that worker should stop
        return {"stop": live["stop"], **live["ctl"]}

    async def started(self, job_id: str, attempt: int, worker: dict) -> None:
        live, info = self.live.get(job_id), self.jobs.get(job_id)
        if live is None or live["attempt"] != attempt:
            return
        live["worker"] = worker
        if info["status"] == QUEUED:
            info.update(status=RUNNING, started=time.time())

    async def push(self, job_id: str, attempt: int, event: dict) -> None:
        live, info = self.live.get(job_id), self.jobs.get(job_id)
        if live is None or live["attempt"] != attempt:
            return
        kind = event.get("type")
        if kind == "start":
            spe = event["steps_per_epoch"]
            info.update(epoch=event["epoch"], step=event["epoch"] * spe, steps_total=spe * event["epochs"],
                        epochs=event["epochs"])
            live["steps"] = [s for s in live["steps"] if s["epoch"] <= event["epoch"]]
            live["epochs"] = [e for e in live["epochs"] if e["epoch"] <= event["epoch"]]
            step0 = info["step"]
            if event.get("resumed_from"):
                live["events"].append({"kind": "resume", "epoch": event["epoch"], "step": step0,
                                       "from": event["resumed_from"]})
            live["events"].append({"kind": "start", "epoch": event["epoch"], "step": step0,
                                   "device": event.get("device"), "params": event.get("params"), "attempt": attempt,
                                   "resumed_from": event.get("resumed_from")})
            live["info"] = {k: event.get(k) for k in ("device", "params", "data_note", "steps_per_epoch",
                                                      "resumed_from")}
            live["t_step"] = (time.time(), info["step"])
            if info["status"] == QUEUED:
                info.update(status=RUNNING, started=time.time())
        elif kind == "step":
            point = {k: v for k, v in event.items() if k != "type"}
            live["steps"].append(point)
            info.update(step=point["step"], latest=point)
            t0, s0 = live.get("t_step") or (time.time(), 0)
            if point["step"] > s0 and info["steps_total"]:
                rate = (time.time() - t0) / (point["step"] - s0)
                info["eta_s"] = rate * max(0, info["steps_total"] - point["step"])
            if live["ctl"].get("beta") is not None and not any(
                    e["kind"] == "beta" and e["value"] == live["ctl"]["beta"] for e in live["events"]):
                live["events"].append({"kind": "beta", "step": point["step"], "value": live["ctl"]["beta"]})
            if live["ctl"].get("lr") is not None and not any(
                    e["kind"] == "lr" and e["value"] == live["ctl"]["lr"] for e in live["events"]):
                live["events"].append({"kind": "lr", "step": point["step"], "value": live["ctl"]["lr"]})
        elif kind == "epoch":
            snap = event.get("snapshot")
            entry = {k: v for k, v in event.items() if k not in ("type", "snapshot")}
            live["epochs"].append(entry)
            info["epoch"] = entry["epoch"]
            if snap is not None and info["status"] in (QUEUED, RUNNING):
                live["snaps"][entry["epoch"]] = snap
                for old in sorted(live["snaps"])[:-SNAPSHOTS_KEPT]:
                    del live["snaps"][old]

    # ---- helpers ----------------------------------------------------------------------------------------
    @staticmethod
    def _new(job_id: str, cfg_json: dict, owner: str | None) -> dict:
        return JobInfo(job_id=job_id, status=QUEUED, config=cfg_json, epochs=cfg_json.get("epochs", 0),
                       owner=owner, owners=[owner] if owner else [], created=time.time()).to_json()

    @staticmethod
    def _add_owner(info: dict, owner: str | None) -> None:
        if owner and owner not in info["owners"]:
            info["owners"].append(owner)
        if owner and not info["owner"]:
            info["owner"] = owner


# ---------------------------------------------------------------------------------------------------------
# The backend the app uses
# ---------------------------------------------------------------------------------------------------------

STORE_STATUS = {"completed": COMPLETED, "stopped": CANCELLED, "failed": FAILED, "running": INTERRUPTED,
                "interrupted": INTERRUPTED}


def connect(address: str | None = None, **local) -> None:
    """Join the cluster at `address` (or $AE_LAB_RAY_ADDRESS); without one, start a local cluster.

    `local` goes to ray.init for the local case (num_cpus, num_gpus, ...). Does nothing if already connected.
    """
    if ray.is_initialized():
        return
    address = address or os.environ.get(ENV_ADDRESS) or None
    env = {k: os.environ[k] for k in FORWARD_ENV if k in os.environ}
    runtime_env = {"env_vars": env} if env else None
    if address:
        try:
            ray.init(address=address, namespace=NAMESPACE, runtime_env=runtime_env, log_to_driver=False)
        except (ConnectionError, RuntimeError, ray.exceptions.RayError) as e:
            auth = "auth" in f"{e} {e.__cause__}".lower()
            hint = ("the cluster uses token authentication: set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN (or "
                    "~/.ray/auth_token) to the cluster's token" if auth else
                    f"is the head running (`ray start --head`) and reachable? check {ENV_ADDRESS}")
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
        h = self.store.history(job_id)
        return {"steps": [s for s in h["steps"] if s["step"] > since_step], "epochs": h["epochs"],
                "events": h["events"], "attempt": 0, "info": {}}

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
        if info.status in (QUEUED, RUNNING):
            return job_id
        if info.status not in RESUMABLE:
            raise JobError(f"job {job_id} is {info.status}: only failed, cancelled or interrupted jobs can resume")
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
