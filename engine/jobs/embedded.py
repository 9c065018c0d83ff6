"""The embedded backend (the default): jobs run in worker processes on this machine; no service needed.

All state is on disk under <checkpoints>/jobs/ (see `engine.jobs.jobdb.JobDB`), so the Streamlit server, the
CLI and a restarted server (a new EmbeddedBackend) see the same jobs. Processes:

- each job runs `engine.core.trainer.train` in its own fresh process (`engine.jobs.child`; never forked from
  the app: no CUDA state is inherited), so a crash or an out-of-memory error never takes the app down;
- a small supervisor (`engine.jobs.pool`, started on demand, in its own session so it outlives a CLI
  `submit`) starts queued jobs FIFO up to the concurrency limit, keeps warm processes (torch and
  MNIST loaded) for a fast start, reaps workers and records how they died;
- job processes run at a lower CPU priority than the app ($AE_LAB_JOB_NICE) with the cores shared among
  the jobs that may run at once ($AE_LAB_JOB_THREADS), so training never starves the pages;
- nothing relies on that supervisor: every call here reconciles the table (a running job whose process
  is gone -> failed with the reason; queued work and no supervisor -> start one).

Jobs keep running when the app restarts (the new server attaches to them). A job stopped by a signal
(SIGTERM/SIGINT/SIGHUP, e.g. at shutdown) or by a machine restart is `interrupted`; one whose process
died (killed, OOM) is `failed`; both resume from their last epoch checkpoint.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import fields
from pathlib import Path

from ..core.config import RunConfig
from ..core.store import Store
from .base import Backend, JobError, JobInfo, check_steer
from .jobdb import JobDB, forced_cancel_message
from .pool import PROJECT, command
from .procs import CANCEL_GRACE_S, alive, env_number, job_nice, job_threads, kill, warm_count
from .progress import metrics_view
from .status import ACTIVE, CANCELLED, COMPLETED, QUEUED, RESUMABLE, RUNNING

INFO_FIELDS = {f.name for f in fields(JobInfo)}


def check_settings() -> int | None:
    """Read the job settings of the environment once, so a bad value stops here with one line (the supervisor
    and the job processes read them again); returns $AE_LAB_MAX_JOBS (None when unset)."""
    try:
        max_jobs = env_number("AE_LAB_MAX_JOBS", 0, low=None) if os.environ.get("AE_LAB_MAX_JOBS", "").strip() else None
        warm_count(None, 1)
        job_threads(1)
        job_nice()
    except ValueError as e:
        raise JobError(str(e)) from None
    return max_jobs


class EmbeddedBackend(Backend):
    """Worker processes on this machine; `max_jobs` at a time (default: 1 per GPU, 1 on CPU; $AE_LAB_MAX_JOBS)."""

    name = "embedded"

    def __init__(self, root: str | Path | None = None, max_jobs: int | None = None, warm: bool | int | None = None,
                 idle_s: float | None = None):
        """warm: how many preloaded worker processes to keep ready (True: 1, False: none; default $AE_LAB_WARM,
        else 1; never more than max_jobs). idle_s: the supervisor and its warm processes exit after this many
        seconds without jobs."""
        self.store = Store(root)
        self.root = self.store.root
        self.db = JobDB(self.root)
        max_jobs = max_jobs if max_jobs is not None else check_settings()
        if max_jobs is not None and max_jobs < 1:
            raise JobError(f"the concurrency limit must be at least 1, got {max_jobs}")
        given = {k: v for k, v in {"max_jobs": max_jobs, "warm": warm, "idle_s": idle_s}.items() if v is not None}
        if given:  # the supervisor (possibly started by another process) reads these
            self.db.update_settings(given)

    # ---- the contract ----------------------------------------------------------------------------
    def submit(self, cfg: RunConfig, owner: str | None = None) -> str:
        if not isinstance(cfg, RunConfig):
            raise JobError("submit() needs a RunConfig "
                           "(see engine.core.presets.preset or engine.core.config.make_config)")
        job_id = cfg.run_id()
        complete = self.store.is_complete(job_id)
        with self.db.transact():
            rec = self.db.job(job_id)
            if rec is not None and (rec["status"] in ACTIVE or (rec["status"] == COMPLETED and complete)):
                self._add_owner(rec, owner)  # attach
                self.db.put(rec)
                return job_id
            if complete:  # finished at once from the checkpoint cache: no process
                m = self.store.meta(job_id) or {}
                hist = self.store.history(job_id)
                now = time.time()
                done = int(m.get("epochs_done", cfg.epochs))
                rec = self._new(job_id, cfg, owner, status=COMPLETED, cached=True, epoch=done, epochs=cfg.epochs,
                                step=hist["steps"][-1]["step"] if hist["steps"] else 0,
                                latest=hist["steps"][-1] if hist["steps"] else {},
                                message="already trained — loaded from cache", started=now, finished=now,
                                owners=list((rec or {}).get("owners", [])))
                self.db.put(rec)
                self.db.register(job_id, rec["created"])
                return job_id
            rec = rec or self._new(job_id, cfg, owner)
            self._add_owner(rec, owner)
            self._queue(rec)
        self._after_queue()
        return job_id

    def status(self, job_id: str) -> JobInfo:
        self._reconcile()
        return self._info(self._rec(job_id))

    def jobs(self, owner: str | None = None) -> list[JobInfo]:
        self._reconcile()
        recs = [self.db.job(j) for j in self.db.ids()]
        recs = [r for r in recs if r is not None and (owner is None or owner in r.get("owners", []))]
        return [self._info(r) for r in sorted(recs, key=lambda r: r.get("created", 0), reverse=True)]

    def metrics(self, job_id: str, since_step: int = 0) -> dict:
        """{"steps": points with step > since_step, "epochs": all, "events": all, "attempt": n, "info": {...}}.
        Cheap: reads a small index and only the batches of step points newer than `since_step`.
        `attempt` grows on every (re)start; a poller seeing it change should fetch again from step 0."""
        rec = self._rec(job_id)
        live = self.db.points(job_id, since_step)
        if live is None:  # finished from the cache (or not started yet): the run's stored history
            return metrics_view(self.store.history(job_id), since_step, rec.get("attempt", 0), rec.get("info"))
        attempt, steps = live
        return {"steps": steps, "epochs": self.db.epochs(job_id), "events": self.db.events(job_id),
                "attempt": attempt, "info": rec.get("info", {})}

    def snapshot(self, job_id: str, epoch: int | None = None) -> dict | None:
        self._rec(job_id)
        return self.store.snapshot(job_id, epoch)

    def cancel(self, job_id: str, wait: bool = True) -> None:
        """Stop at the next step (the last epoch checkpoint is kept). With `wait`, return once the process is
        gone: after CANCEL_GRACE_S a worker that has not stopped is killed."""
        if self._cancel_queued(job_id) or self._rec(job_id)["status"] != RUNNING:
            return
        self.db.ask_cancel(job_id)
        self.db.wake()
        if wait and not self._stopped_within(job_id, CANCEL_GRACE_S):
            self._force_cancel(job_id)

    def _cancel_queued(self, job_id: str) -> bool:
        """Cancel a job that has not started yet; False if it has (or is not active)."""
        if self._rec(job_id)["status"] != QUEUED:
            return False
        with self.db.transact():
            rec = self._rec(job_id)
            if rec["status"] != QUEUED:
                return False
            rec.update(status=CANCELLED, message="cancelled before it started", finished=time.time())
            self.db.put(rec)
            self.db.remove_active(job_id)
        return True

    def _stopped_within(self, job_id: str, seconds: float) -> bool:
        """Wait up to `seconds` for the job to leave `running` with its process gone."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds:
            rec = self._rec(job_id)
            if rec["status"] != RUNNING and not alive(rec.get("pid"), rec.get("pid_start")):
                return True
            time.sleep(0.01)
        return False

    def _force_cancel(self, job_id: str) -> None:
        """Kill a worker that did not stop in time and record the cancel."""
        rec = self._rec(job_id)
        if rec["status"] == RUNNING and rec.get("pid") is None:  # its process has not picked it up yet
            self.db.finish(job_id, rec.get("attempt"), CANCELLED, "cancelled before it started")
            return
        if alive(rec.get("pid"), rec.get("pid_start")):
            kill(rec["pid"])
        t1 = time.monotonic()
        while time.monotonic() - t1 < 3.0 and (self._rec(job_id)["status"] == RUNNING
                                               or alive(rec.get("pid"), rec.get("pid_start"))):
            time.sleep(0.02)
        self.db.finish(job_id, rec.get("attempt"), CANCELLED, forced_cancel_message(self.db, job_id, self._rec(job_id)))

    def resume(self, job_id: str) -> str:
        rec = self._rec(job_id)
        if rec["status"] not in RESUMABLE:
            return job_id  # queued/running: attach; completed: nothing to do
        with self.db.transact():
            rec = self._rec(job_id)
            if rec["status"] not in RESUMABLE:
                return job_id
            self._queue(rec)
        self._after_queue()
        return job_id

    def steer(self, job_id: str, beta: float | None = None, lr: float | None = None) -> None:
        rec = self._rec(job_id)
        check_steer(job_id, rec["config"], beta, lr)
        if rec["status"] not in ACTIVE:
            raise JobError(f"job {job_id} is {rec['status']}: only a queued or running job can be steered")
        with self.db.transact():
            ctl = self.db.controls(job_id)
            ctl.update({k: float(v) for k, v in (("beta", beta), ("lr", lr)) if v is not None})
            self.db.set_controls(job_id, ctl)
            rec = self._rec(job_id)
            rec["controls"] = ctl
            self.db.put(rec)

    def delete(self, job_id: str) -> None:
        rec = self._rec(job_id)
        if rec["status"] in ACTIVE:
            self.cancel(job_id)
        with self.db.transact():
            self.db.forget(job_id)
        self.store.delete(job_id)

    # ---- extras --------------------------------------------------------------------------------------
    def prewarm(self, wait: bool = False, timeout: float = 60.0) -> bool:
        """Start the supervisor and its warm processes now (or keep them from idling out: cheap when they run),
        so the next submit starts in a fraction of a second. Pages can call it on every render.
        With `wait`, block until the next job's warm process has loaded (True) or `timeout` passes (False)."""
        self.db.touch()
        self._start_pool()
        if not wait:
            return True
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            spare = self.db.spare()
            if spare and spare in self.db.ready_pids() and alive(spare):
                return True
            time.sleep(0.05)
        return False

    def processes(self, job_id: str) -> list[int]:
        """Live process ids of the job (its worker), for tests and diagnostics."""
        rec = self._rec(job_id)
        return [rec["pid"]] if alive(rec.get("pid"), rec.get("pid_start")) else []

    def supervisor(self) -> int | None:
        """The supervisor's pid if it is running."""
        p = self._live_pool()
        return p["pid"] if p else None

    def shutdown(self, cancel: bool = True, timeout: float = 10.0) -> None:
        """Cancel this folder's active jobs (if `cancel`) and stop the supervisor and its warm processes."""
        if cancel:
            for job_id in self.db.active():
                try:
                    self.cancel(job_id)
                except JobError:
                    pass
        p = self._live_pool()
        if not p:
            return
        kill(p["pid"], signal.SIGTERM)
        t0 = time.monotonic()
        while alive(p["pid"], p.get("start")) and time.monotonic() - t0 < timeout:
            time.sleep(0.02)
        if alive(p["pid"], p.get("start")):
            kill(p["pid"])

    # ---- internals -----------------------------------------------------------------------------------
    def _rec(self, job_id: str) -> dict:
        rec = self.db.job(job_id)
        if rec is None:
            raise JobError(f"unknown job '{job_id}' (see `python -m engine jobs`)")
        return rec

    @staticmethod
    def _info(rec: dict) -> JobInfo:
        return JobInfo(**{k: v for k, v in rec.items() if k in INFO_FIELDS})

    @staticmethod
    def _add_owner(rec: dict, owner: str | None) -> None:
        if owner and owner not in rec.setdefault("owners", []):
            rec["owners"].append(owner)
            rec["owner"] = rec.get("owner") or owner

    def _new(self, job_id: str, cfg: RunConfig, owner: str | None, **fields) -> dict:
        rec = {"job_id": job_id, "status": QUEUED, "config": cfg.model_dump(mode="json"), "epochs": cfg.epochs,
               "owner": owner, "owners": [], "created": time.time(), "attempt": 0}
        rec.update(fields)
        self._add_owner(rec, owner)
        return rec

    def _queue(self, rec: dict) -> None:
        """(Re)queue a job; call inside a transaction. A new attempt starts from the last epoch checkpoint."""
        job_id = rec["job_id"]
        rec.update(status=QUEUED, attempt=rec.get("attempt", 0) + 1, message="", cached=False, started=None,
                   finished=None, eta_s=None, pid=None, pid_start=None, pool=None, controls={},
                   queued=time.time())
        self.db.clear_requests(job_id)
        self.db.put(rec)
        self.db.register(job_id, rec["created"])
        self.db.add_active(job_id)

    def _after_queue(self) -> None:
        self.db.wake()
        self._start_pool()

    def _live_pool(self) -> dict | None:
        """The supervisor's entry if that process is running."""
        p = self.db.pool()
        return p if p and alive(p["pid"], p.get("start")) else None

    def _start_pool(self) -> None:
        """Start the supervisor unless it runs (or was started a moment ago and is still coming up)."""
        if self._live_pool() or not self.db.claim_pool_launch():
            return
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT), os.environ.get("PYTHONPATH")]))}
        with open(self.db.log_path, "ab") as log:
            proc = subprocess.Popen(command("pool", self.root), cwd=str(PROJECT), env=env,
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, close_fds=True,
                                    start_new_session=True)
        # Reap it when it exits (a long-lived app would otherwise collect zombies); daemon: never blocks exit.
        threading.Thread(target=proc.wait, daemon=True, name=f"reap-{proc.pid}").start()

    def _reconcile(self) -> None:
        """Cheap consistency pass: running jobs whose process is gone -> failed/interrupted with the reason;
        queued jobs and no supervisor -> start one. Jobs of a live supervisor are left to it."""
        active = self.db.active()
        if not active:
            return
        pool = self._live_pool()
        queued = False
        for job_id in active:
            rec = self.db.job(job_id)
            if rec is None:
                continue
            queued = queued or rec["status"] == QUEUED
            if rec["status"] == RUNNING and self._lost(rec, pool):
                self.db.fail_lost(job_id, rec)
        if queued and pool is None:
            self._start_pool()

    @staticmethod
    def _lost(rec: dict, pool: dict | None) -> bool:
        """Is this running job's process gone (and no live supervisor of its own to say so)?"""
        if pool and rec.get("pool") == pool.get("ident"):
            return False
        if rec.get("pid") is None and time.time() - (rec.get("started") or 0) < 5:
            return False  # being handed to its process right now
        return not alive(rec.get("pid"), rec.get("pid_start"))
