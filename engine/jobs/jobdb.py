"""The embedded backend's job table: a diskcache database under <checkpoints>/jobs/, shared by the backend
(app, CLI), the supervisor and the job processes. Every key has its own methods here; no other module
spells a key. Standard library and diskcache only (the supervisor imports it without loading torch).

    job:<id>            the job record (JobInfo fields + pid, pool, attempt, ...)
    ids                 {job_id: created} of every job;  active: [job ids queued or running], FIFO
    idx:<id>            {"attempt": a, "batches": [[first_step, last_step], ...]}
    pts:<id>:<a>:<k>    batch k of step points of attempt a (complete history, written in batches)
    ep:<id>, ev:<id>    epoch entries and events (start, β/lr changes, resume) of the current attempt
    cancel:<id>         set when a cancel was asked;  ctl:<id>  {"beta": b, "lr": x} steering
    pool, pool_launch   the supervisor's identity; a short-lived claim while one is being started
    spares, ready_pids  the supervisor's warm processes; the last ones that finished loading
    settings, touch     max_jobs / warm / idle_s given to a backend; the last prewarm() call
    warm_starts, cold_starts   how many jobs went to a warm / a fresh process
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import diskcache

from .procs import CANCEL_GRACE_S, boot_id, describe_exit
from .status import ACTIVE, FAILED, INTERRUPTED

JOB_KEYS = ("job", "idx", "ep", "ev", "cancel", "ctl")  # the keys of one job, besides its step point batches


class JobDB:
    """The on-disk job table of one checkpoint folder (see the module docstring for its keys)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.dir = self.root / "jobs"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.cache = diskcache.Cache(str(self.dir / "db"), timeout=60)
        self.wake_path = self.dir / "wake"
        self.lock_path = self.dir / "pool.lock"
        self.log_path = self.dir / "worker.log"

    def transact(self):
        """A write transaction: serialises every read-modify-write across processes (sqlite lock)."""
        return self.cache.transact()

    def wake(self) -> None:
        """Tell the supervisor to look at the table now."""
        with open(self.wake_path, "a"):
            os.utime(self.wake_path)

    # ---- job records --------------------------------------------------------------------------------
    def job(self, job_id: str) -> dict | None:
        return self.cache.get(f"job:{job_id}")

    def put(self, rec: dict) -> None:
        self.cache.set(f"job:{rec['job_id']}", rec)

    def ids(self) -> dict[str, float]:
        """{job_id: created} of every job."""
        return dict(self.cache.get("ids") or {})

    def register(self, job_id: str, created: float) -> None:
        ids = self.ids()
        if job_id not in ids:
            ids[job_id] = created
            self.cache.set("ids", ids)

    def forget(self, job_id: str) -> None:
        """Drop every key of the job (call inside a transaction)."""
        self.drop_points(job_id)
        for key in JOB_KEYS:
            self.cache.delete(f"{key}:{job_id}")
        ids = self.ids()
        ids.pop(job_id, None)
        self.cache.set("ids", ids)
        self.remove_active(job_id)

    # ---- the queue ------------------------------------------------------------------------------------
    def active(self) -> list[str]:
        """Ids of the jobs queued or running, in the order they were queued."""
        return list(self.cache.get("active") or [])

    def set_active(self, job_ids: list[str]) -> None:
        self.cache.set("active", job_ids)

    def add_active(self, job_id: str) -> None:
        active = self.active()
        if job_id not in active:
            self.set_active(active + [job_id])

    def remove_active(self, job_id: str) -> None:
        self.set_active([j for j in self.active() if j != job_id])

    def finish(self, job_id: str, attempt: int | None, status: str, message: str, **fields) -> bool:
        """Move an active job to a final status, once: False if it is not active (or a newer attempt runs)."""
        with self.transact():
            rec = self.job(job_id)
            if rec is None or rec["status"] not in ACTIVE or (attempt is not None and rec.get("attempt") != attempt):
                return False
            rec.update(fields, status=status, message=message, finished=time.time(), eta_s=None)
            self.put(rec)
            self.remove_active(job_id)
        self.wake()
        return True

    def fail_lost(self, job_id: str, rec: dict) -> None:
        """A running job whose process is gone without a word: failed (or interrupted after a reboot)."""
        status, msg = dead_worker_ending(self, job_id, rec, describe_exit(None, self.log_path))
        self.finish(job_id, rec.get("attempt"), status, msg)

    # ---- live progress: step points in batches, epochs, events ----------------------------------------
    def reset_points(self, job_id: str, attempt: int) -> None:
        """Drop the step points of earlier attempts; `attempt` starts with none (call inside a transaction)."""
        self.drop_points(job_id)
        self.cache.set(f"idx:{job_id}", {"attempt": attempt, "batches": []})

    def add_points(self, job_id: str, points: list[dict]) -> None:
        """Append one batch of step points to the current attempt (call inside a transaction)."""
        idx = self.cache.get(f"idx:{job_id}")
        k = len(idx["batches"])
        self.cache.set(f"pts:{job_id}:{idx['attempt']}:{k}", points)
        idx["batches"].append([points[0]["step"], points[-1]["step"]])
        self.cache.set(f"idx:{job_id}", idx)

    def points(self, job_id: str, since_step: int = 0) -> tuple[int, list[dict]] | None:
        """(attempt, step points after `since_step`), reading only the newer batches; None before any start."""
        idx = self.cache.get(f"idx:{job_id}")
        if idx is None:
            return None
        steps = []
        for k, (_, last) in enumerate(idx["batches"]):
            if last > since_step:
                batch = self.cache.get(f"pts:{job_id}:{idx['attempt']}:{k}") or []
                steps.extend(p for p in batch if p["step"] > since_step)
        return idx["attempt"], steps

    def drop_points(self, job_id: str) -> None:
        idx = self.cache.get(f"idx:{job_id}")
        for k in range(len(idx["batches"]) if idx else 0):
            self.cache.delete(f"pts:{job_id}:{idx['attempt']}:{k}")

    def epochs(self, job_id: str) -> list[dict]:
        return list(self.cache.get(f"ep:{job_id}") or [])

    def set_epochs(self, job_id: str, epochs: list[dict]) -> None:
        self.cache.set(f"ep:{job_id}", epochs)

    def events(self, job_id: str) -> list[dict]:
        return list(self.cache.get(f"ev:{job_id}") or [])

    def set_events(self, job_id: str, events: list[dict]) -> None:
        self.cache.set(f"ev:{job_id}", events)

    # ---- requests to a running job --------------------------------------------------------------------
    def cancel_asked(self, job_id: str) -> float | None:
        """When a cancel of the job was asked (None: it was not)."""
        return self.cache.get(f"cancel:{job_id}")

    def ask_cancel(self, job_id: str) -> None:
        self.cache.set(f"cancel:{job_id}", time.time())

    def controls(self, job_id: str) -> dict:
        """The steering values asked for: {"beta": b, "lr": x} (either may be missing)."""
        return dict(self.cache.get(f"ctl:{job_id}") or {})

    def set_controls(self, job_id: str, ctl: dict) -> None:
        self.cache.set(f"ctl:{job_id}", ctl)

    def clear_requests(self, job_id: str) -> None:
        """Forget cancel and steering requests (a new attempt starts from the config)."""
        self.cache.delete(f"cancel:{job_id}")
        self.cache.delete(f"ctl:{job_id}")

    # ---- the supervisor and its warm processes --------------------------------------------------------
    def pool(self) -> dict | None:
        """{"pid", "start", "ident"} of the supervisor that last announced itself."""
        return self.cache.get("pool")

    def set_pool(self, pool: dict) -> None:
        self.cache.set("pool", pool)

    def clear_pool(self, ident: str) -> None:
        """Remove the supervisor's entry if it is still `ident`'s."""
        with self.transact():
            if (self.pool() or {}).get("ident") == ident:
                self.cache.delete("pool")

    def claim_pool_launch(self) -> bool:
        """True for one caller in 3 s: the one that starts a supervisor (others see it coming up)."""
        return self.cache.add("pool_launch", time.time(), expire=3)

    def spares(self) -> list[int]:
        """Pids of the supervisor's warm processes, oldest (the next to get a job) first."""
        return list(self.cache.get("spares") or [])

    def spare(self) -> int | None:
        """Pid of the warm process the next job goes to."""
        return next(iter(self.spares()), None)

    def set_spares(self, pids: list[int]) -> None:
        self.cache.set("spares", pids)

    def ready_pids(self) -> list[int]:
        """Pids of the last warm processes that finished loading (the newest last)."""
        return list(self.cache.get("ready_pids") or [])

    def ready(self) -> int | None:
        """Pid of the last warm process that finished loading."""
        return next(reversed(self.ready_pids()), None)

    def set_ready(self, pid: int) -> None:
        with self.transact():
            self.cache.set("ready_pids", [*self.ready_pids()[-31:], pid])

    def count_start(self, warm: bool) -> None:
        self.cache.incr("warm_starts" if warm else "cold_starts", default=0)

    def starts(self) -> tuple[int, int]:
        """(jobs handed to a warm process, jobs that started a fresh one)."""
        return self.cache.get("warm_starts", 0), self.cache.get("cold_starts", 0)

    def settings(self) -> dict:
        """max_jobs / warm / idle_s given explicitly to a backend (the supervisor reads them)."""
        return dict(self.cache.get("settings") or {})

    def update_settings(self, given: dict) -> None:
        with self.transact():
            self.cache.set("settings", {**self.settings(), **given})

    def touch(self) -> None:
        """A page wants the warm process kept (prewarm)."""
        self.cache.set("touch", time.time())

    def touched(self) -> float:
        return float(self.cache.get("touch") or 0)

    # ---- the checkpoint store, read without importing it (it loads torch) -----------------------------
    def epochs_done(self, job_id: str, rec: dict | None = None) -> int:
        """Epochs in the job's last checkpoint, from the checkpoint store's index (falls back to the record)."""
        try:
            with diskcache.Cache(str(self.root / "index")) as index:
                m = index.get(f"run:{job_id}")
            if m is not None:
                return int(m.get("epochs_done", 0))
        except Exception:  # noqa: BLE001 - the index is optional here
            pass
        return int((rec or {}).get("epoch", 0))


def dead_worker_ending(db: JobDB, job_id: str, rec: dict, reason: str) -> tuple[str, str]:
    """(status, message) for a running job whose process ended without reporting."""
    k = db.epochs_done(job_id, rec)
    tail = f"; resume continues from epoch {k}" if k else "; resume starts it again"
    if rec.get("boot") and rec["boot"] != boot_id():
        return INTERRUPTED, f"the machine restarted during training{tail}"
    return FAILED, reason + tail


def forced_cancel_message(db: JobDB, job_id: str, rec: dict) -> str:
    if not rec.get("info"):  # the trainer had not started (still loading torch or the data)
        return "cancelled before training started"
    return (f"cancelled; the worker did not stop within {CANCEL_GRACE_S:g} s and was killed; "
            f"kept the checkpoint of epoch {db.epochs_done(job_id, rec)}")
