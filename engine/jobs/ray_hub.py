"""The hub of the Ray backend: one named, detached async actor per checkpoint storage that owns its jobs.

It launches their tasks (`engine.jobs.ray_task.run_job`), keeps their state and live progress (workers push
the trainer's report events and epoch snapshots to it, folded by `engine.jobs.progress.Progress`, so the app
never polls a worker's disk), relays cancel/steer requests, and watches each task's result. Every app
process (every Streamlit server, the CLI, a load script) talks to the same hub by name, so they share one view.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ray

from .base import JobInfo
from .progress import Progress
from .ray_task import run_job
from .status import ACTIVE, CANCELLED, COMPLETED, FAILED, QUEUED, RUNNING

SNAPSHOTS_KEPT = 8  # per running job, in the hub's memory; older epochs are read from the checkpoint store
METRICS_KEPT = 200  # finished jobs whose step metrics stay in the hub; older ones are read from the store
RESULT_STATUS = {"completed": COMPLETED, "stopped": CANCELLED, "diverged": FAILED}  # TrainResult.status -> job


def hub_name(root: str | Path) -> str:
    """One hub per checkpoint storage: two classes on one cluster with different storage never mix."""
    return "ae-lab-hub-" + hashlib.sha1(str(Path(root).resolve()).encode()).hexdigest()[:10]


@dataclass
class Live:
    """The hub's working state of one job, beside its JobInfo fields."""

    attempt: int = 0
    progress: Progress = field(default_factory=Progress)
    snaps: dict[int, dict] = field(default_factory=dict)  # epoch -> snapshot, the latest SNAPSHOTS_KEPT
    ctl: dict = field(default_factory=dict)  # steering asked for: {"beta": b, "lr": x}
    stop: bool = False  # a cancel was asked
    forced: bool = False  # ... and the task was cancelled by force
    worker: dict = field(default_factory=dict)  # where the task runs (pid, node, resources, ...)
    ref: Any = None  # the task's ObjectRef
    done: asyncio.Event | None = None  # set when the attempt has ended

    @property
    def finished(self) -> bool:
        return self.done is not None and self.done.is_set()


@ray.remote(num_cpus=0)
class Hub:
    """Owns the jobs of one checkpoint storage. All methods are cheap and never touch the disk."""

    def __init__(self, root: str, name: str):
        self.root, self.name = root, name
        self.jobs: dict[str, dict] = {}  # job_id -> JobInfo fields
        self.live: dict[str, Live] = {}
        self.finished: list[str] = []  # jobs in the order they finished, to bound the hub's memory

    # ---- launching ------------------------------------------------------------------------------------
    def _launch(self, job_id: str, opts: dict) -> None:
        live = self.live[job_id]
        live.attempt += 1
        live.progress = Progress(live.attempt, before=live.progress.history)  # resume carries the history over
        live.ctl, live.stop, live.forced, live.worker, live.done = {}, False, False, {}, asyncio.Event()
        info = self.jobs[job_id]
        info.update(status=QUEUED, message="", finished=None, started=None, cached=False, eta_s=None)
        threads = max(1, int(opts.get("num_cpus") or 1))
        live.ref = run_job.options(**opts).remote(info["config"], self.root, self.name, job_id, live.attempt, threads)
        asyncio.get_running_loop().create_task(self._watch(job_id, live.attempt, live.ref))

    async def _watch(self, job_id: str, attempt: int, ref) -> None:
        """Wait for the task; turn its result or its failure into the job's final state."""
        status, message, result, died = FAILED, "", None, False
        try:
            result = await ref
            status, message = RESULT_STATUS[result["status"]], result.get("message", "")
        except ray.exceptions.TaskCancelledError:
            status, message = CANCELLED, "cancelled"
        except ray.exceptions.RayTaskError as e:  # the training code raised: show its one-line message
            cause = getattr(e, "cause", None) or e
            message = str(cause).strip().splitlines()[-1] if str(cause).strip() else type(cause).__name__
        except ray.exceptions.RayError as e:  # worker process or node died, object lost, ...
            message, died = f"the Ray worker running this job died ({type(e).__name__})", True
        live, info = self._current(job_id, attempt)
        if live is None:
            return  # forgotten or relaunched meanwhile
        if live.stop and status == FAILED and result is None:
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
        live.snaps = {}  # the store has every epoch's snapshot; keep the hub small
        live.done.set()
        self._retire(job_id)

    def _retire(self, job_id: str) -> None:
        """Keep the step metrics of the latest METRICS_KEPT finished jobs; older ones come from the store."""
        if job_id in self.finished:
            self.finished.remove(job_id)
        self.finished.append(job_id)
        while len(self.finished) > METRICS_KEPT:
            old = self.live.get(self.finished.pop(0))
            if old and old.finished:
                old.progress = Progress(old.attempt)

    def _current(self, job_id: str, attempt: int) -> tuple[Live | None, dict | None]:
        """(live state, info) of the job if `attempt` is still its current one, else (None, None)."""
        live = self.live.get(job_id)
        if live is None or live.attempt != attempt or job_id not in self.jobs:
            return None, None
        return live, self.jobs[job_id]

    # ---- requests from the app --------------------------------------------------------------------------
    async def submit(self, job_id: str, cfg_json: dict, owner: str | None, opts: dict) -> dict:
        info = self.jobs.get(job_id)
        if info and info["status"] in ACTIVE:
            self._add_owner(info, owner)
            return dict(info)
        if info is None:
            info = self.jobs[job_id] = self._new(job_id, cfg_json, owner)
            self.live[job_id] = Live()
        else:
            self._add_owner(info, owner)
            info["config"] = cfg_json
        self._launch(job_id, opts)
        return dict(info)

    async def record(self, job_id: str, cfg_json: dict, owner: str | None, fields: dict) -> dict:
        """A job that needs no task (served from the cache, or known only from the store)."""
        info = self.jobs.get(job_id)
        if info and info["status"] in ACTIVE:
            self._add_owner(info, owner)
            return dict(info)
        if info and info["status"] == COMPLETED:  # trained here before: only the cache flag changes
            fields = {k: v for k, v in fields.items() if k in ("cached", "message")}
        info = info or self._new(job_id, cfg_json, owner)
        self._add_owner(info, owner)
        info.update(fields)
        self.jobs[job_id] = info
        self.live.setdefault(job_id, Live())
        return dict(info)

    async def resume(self, job_id: str, owner: str | None, opts: dict) -> dict:
        info = self.jobs.get(job_id)
        if info is None:
            raise KeyError(job_id)
        if info["status"] in ACTIVE:
            return dict(info)
        self._add_owner(info, owner)
        self._launch(job_id, opts)
        return dict(info)

    async def cancel(self, job_id: str, timeout: float) -> str:
        info, live = self.jobs.get(job_id), self.live.get(job_id)
        if info is None:
            raise KeyError(job_id)
        if info["status"] not in ACTIVE:
            return info["status"]
        live.stop = True
        if info["status"] == QUEUED and not live.worker:
            ray.cancel(live.ref)  # still waiting for resources: drop it from Ray's queue
        asyncio.get_running_loop().create_task(self._force_after(job_id, live.attempt, timeout))
        return info["status"]

    async def _force_after(self, job_id: str, attempt: int, timeout: float) -> None:
        live = self.live.get(job_id)
        try:
            await asyncio.wait_for(live.done.wait(), timeout)
        except TimeoutError:
            if self.live.get(job_id) is live and live.attempt == attempt and not live.finished:
                live.forced = True
                ray.cancel(live.ref, force=True)

    async def steer(self, job_id: str, beta: float | None, lr: float | None) -> str:
        info, live = self.jobs.get(job_id), self.live.get(job_id)
        if info is None:
            raise KeyError(job_id)
        if info["status"] in ACTIVE:
            live.ctl.update({k: float(v) for k, v in (("beta", beta), ("lr", lr)) if v is not None})
        return info["status"]

    async def forget(self, job_id: str, timeout: float) -> None:
        """Stop the job (by force after `timeout`) and drop it; returns when its task has ended."""
        info, live = self.jobs.get(job_id), self.live.get(job_id)
        if info and info["status"] in ACTIVE:
            await self.cancel(job_id, timeout)
            try:
                await asyncio.wait_for(live.done.wait(), timeout + 10)
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
        if live is None or not (live.progress.steps or live.progress.epochs):
            return None
        return live.progress.metrics(since_step)

    async def snapshot(self, job_id: str, epoch: int | None = None) -> dict | None:
        snaps = self.live[job_id].snaps if job_id in self.live else {}
        if not snaps:
            return None
        return snaps.get(max(snaps) if epoch is None else epoch)

    async def worker(self, job_id: str) -> dict:
        return dict(self.live[job_id].worker) if job_id in self.live else {}

    async def ping(self) -> str:
        return self.name

    # ---- calls from workers -----------------------------------------------------------------------------
    async def controls(self, job_id: str, attempt: int) -> dict:
        live, _ = self._current(job_id, attempt)
        if live is None:
            return {"stop": True}  # forgotten or superseded: that worker should stop
        return {"stop": live.stop, **live.ctl}

    async def started(self, job_id: str, attempt: int, worker: dict) -> None:
        live, info = self._current(job_id, attempt)
        if live is None:
            return
        live.worker = worker
        self._running(info)

    async def push(self, job_id: str, attempt: int, event: dict) -> None:
        """A report event of the trainer (start | step | event | epoch), folded into the job's progress."""
        live, info = self._current(job_id, attempt)
        if live is None:
            return
        kind = live.progress.feed(event)
        info.update(live.progress.fields())
        if kind == "start":
            self._running(info)
        elif kind == "epoch" and event.get("snapshot") is not None and info["status"] in ACTIVE:
            live.snaps[event["epoch"]] = event["snapshot"]
            for old in sorted(live.snaps)[:-SNAPSHOTS_KEPT]:
                del live.snaps[old]

    # ---- helpers ----------------------------------------------------------------------------------------
    @staticmethod
    def _running(info: dict) -> None:
        if info["status"] == QUEUED:
            info.update(status=RUNNING, started=time.time())

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
