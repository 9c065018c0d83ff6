"""The supervisor ("pool") of the embedded backend: `python -m engine.jobs.pool CHECKPOINT_ROOT`.

    backend (app / CLI) --writes--> <root>/jobs/db (diskcache) <--reads/writes-- pool, job processes
                        --touches-> <root>/jobs/wake            (the pool notices within ~20 ms)

Started on demand by the backend, in its own session, so it outlives the CLI that submitted. It starts
queued jobs while there is capacity, keeps **warm** job processes (`engine.jobs.child`: torch, the trainer
and MNIST already loaded; $AE_LAB_WARM of them, default 1, started one at a time) so a submit reaches its
first metrics point in well under a second, reaps its
children and records how they ended (exit code / signal), enforces cancel timeouts, and exits after
`idle_s` without work. Only one pool runs per checkpoint folder (an fcntl lock). Nothing depends on it
staying alive: every backend call reconciles (dead workers -> failed, queued work and no pool -> start one).

It never imports torch: this module, `engine.jobs` and everything they import use only the standard library
and diskcache (tests/test_embedded.py checks it).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

from .forkserver import ForkServer
from .jobdb import JobDB, dead_worker_ending, forced_cancel_message
from .procs import (
    CANCEL_GRACE_S,
    STOP_SIGNALS,
    Forked,
    alive,
    become_subreaper,
    boot_id,
    default_max_jobs,
    describe_exit,
    fork_server,
    gpu_count,
    job_threads,
    start_time,
    warm_count,
)
from .status import ACTIVE, CANCELLED, INTERRUPTED, QUEUED, RUNNING

PROJECT = Path(__file__).resolve().parent.parent.parent  # the folder that holds the `engine` package
POLL_S = 0.02  # pool loop period: wake-up latency for a submit
PASS_S = 1.0  # the pool re-reads the job table at least this often even without a wake-up
SPARE_DELAY_S = 2.0  # after starting a job, wait this long before warming the next process (CPU contention)
IDLE_S = 300.0  # the pool (and its warm processes) exits after this long without jobs or prewarm() calls


def command(module: str, root: str | Path) -> list[str]:
    """The command line of a pool or job process (`module`: "pool" or "child"), run with cwd=PROJECT."""
    return [sys.executable, "-m", f"engine.jobs.{module}", str(root)]


class Child:
    """A job process this pool started."""

    def __init__(self, proc: subprocess.Popen | Forked, job_id: str, attempt: int, slot: int):
        self.proc, self.job_id, self.attempt, self.slot = proc, job_id, attempt, slot
        self.cancel_at: float | None = None
        self.killed = False


class Pool:
    """Starts queued jobs, keeps warm job processes, reaps workers and records how they ended."""

    def __init__(self, root: str | Path):
        self.db = JobDB(root)
        self.children: dict[str, Child] = {}
        self.spares: list[subprocess.Popen] = []  # warm processes, oldest first
        self.server = ForkServer(lambda: self.spawn(serve=True), self.db, self.say)  # used when self.forking
        self.forking = False
        self.spare_failures = 0
        self.stopping = False
        self.last_busy = time.monotonic()
        self.last_assign = -1e9
        self.last_mtime: int | None = None
        self.last_pass = 0.0
        self.ident = f"{os.getpid()}:{start_time(os.getpid())}"
        self.settings: dict = {}  # re-read on every scheduling pass
        self._lock_file = None  # the open lock file, held until exit
        self.log = open(self.db.log_path, "ab", buffering=0)  # noqa: SIM115 - lives as long as the pool

    def say(self, msg: str) -> None:
        self.log.write(f"{time.strftime('%H:%M:%S')} pool {os.getpid()}: {msg}\n".encode())

    # -- lifecycle
    def run(self) -> int:
        if not self._lock():
            return 0
        for s in STOP_SIGNALS:
            signal.signal(s, self._on_signal)
        self.db.set_pool({"pid": os.getpid(), "start": start_time(os.getpid()), "ident": self.ident})
        self.forking = fork_server() and become_subreaper()
        self.say("started" + (" (jobs are forked from a preloaded server)" if self.forking else ""))
        try:
            while not self.stopping:
                try:
                    if not self.tick():
                        break
                except Exception:  # noqa: BLE001 - e.g. a busy database: log, retry; never drop running jobs
                    self.say("error, retrying:\n" + traceback.format_exc())
                    time.sleep(1.0)
                time.sleep(POLL_S)
        finally:
            self.shutdown()
        return 0

    def _lock(self) -> bool:
        """Take the folder's pool lock (held until exit); another pool may be exiting right now: wait a little."""
        lock = open(self.db.lock_path, "a+")  # noqa: SIM115 - held until exit
        t0 = time.monotonic()
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._lock_file = lock
                return True
            except BlockingIOError:
                if time.monotonic() - t0 > 3.0:
                    return False
                time.sleep(0.05)

    def tick(self) -> bool:
        """One pass of the loop; False when the pool should exit."""
        changed = self.reap()
        if changed or self._woken():
            if not self.db.root.exists():  # checkpoint folder deleted (e.g. a test's tmp dir)
                return False
            self.schedule()
        self.enforce_cancels()
        self.keep_spares()
        return not (self.idle() and self.try_exit())

    def _woken(self) -> bool:
        """Was the wake file touched since the last pass, or is a pass due anyway?"""
        try:
            mtime = self.db.wake_path.stat().st_mtime_ns
        except FileNotFoundError:
            mtime = None
        now = time.monotonic()
        if mtime == self.last_mtime and now - self.last_pass < PASS_S:
            return False
        self.last_mtime, self.last_pass = mtime, now
        return True

    def _on_signal(self, signum, frame) -> None:
        self.stopping = True

    def idle(self) -> bool:
        if self.children:
            self.last_busy = time.monotonic()
            return False
        idle_s = float(self.settings.get("idle_s") or os.environ.get("AE_LAB_WARM_IDLE") or IDLE_S)
        if time.monotonic() - self.last_busy <= idle_s:
            return False
        return time.time() - self.db.touched() > idle_s  # a page calling prewarm() keeps us warm

    def try_exit(self) -> bool:
        """Leave only if nothing is queued, atomically with respect to submits (they then start a new pool)."""
        with self.db.transact():
            if self.db.active():
                self.last_busy = time.monotonic()
                return False
            self.db.clear_pool(self.ident)
        self.say("idle, exiting")
        return True

    def shutdown(self) -> None:
        """Stop the warm processes; ask running jobs to stop (they end 'interrupted') and wait for them."""
        self._stop_spares()
        for ch in self.children.values():
            with contextlib.suppress(ProcessLookupError):
                ch.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5.0
        while self.children and time.monotonic() < deadline:
            self.reap()
            time.sleep(POLL_S)
        for ch in self.children.values():
            ch.proc.kill()
        while self.children:
            self.reap()
            time.sleep(POLL_S)
        self.db.clear_pool(self.ident)
        self.say("stopped")

    # -- processes
    def spawn(self, serve: bool = False) -> subprocess.Popen:
        # OpenMP threads that spin while waiting make torch 10-30x slower whenever the cores are shared
        # (another job, the app, other programs): let them sleep instead, unless the user chose otherwise.
        env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
        return subprocess.Popen(command("child", self.db.root) + (["--serve"] if serve else []), cwd=str(PROJECT),
                                env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE if serve else self.log,
                                stderr=self.log, close_fds=True)

    def _stop_spares(self) -> None:
        self.server.end()
        for proc in self.spares:  # they hold no job: no need to be gentle
            proc.kill()
            proc.wait()
            with contextlib.suppress(OSError):
                proc.stdin.close()
        self.spares = []

    def limit(self) -> int:
        """How many jobs may run at once (a backend's setting, else $AE_LAB_MAX_JOBS, else one per GPU or 1)."""
        return int(self.settings.get("max_jobs") or os.environ.get("AE_LAB_MAX_JOBS") or default_max_jobs())

    def keep_spares(self) -> None:
        """Keep the warm processes ready: started one at a time (the next once the last has loaded), and a
        little after the last job start, so that neither slows a job's start. When jobs are forked, the one warm
        process is the fork server."""
        if self.forking and warm_count(self.settings.get("warm"), self.limit()) > 0:
            self.server.keep(start=not self.stopping)
            return
        for proc in [p for p in self.spares if p.poll() is not None]:
            self.say(f"warm process {proc.pid} exited with {proc.returncode}")
            self.spares.remove(proc)
            self.spare_failures += 1
        if (len(self.spares) >= warm_count(self.settings.get("warm"), self.limit()) or self.stopping
                or self.spare_failures >= 3 or time.monotonic() - self.last_assign < SPARE_DELAY_S):
            return
        if self.spares and self.spares[-1].pid not in self.db.ready_pids():
            return  # the last one is still loading
        self.spares.append(self.spawn())
        self.db.set_spares([p.pid for p in self.spares])

    def launch(self, job_id: str, attempt: int, slot: int) -> None:
        """Hand the job to the fork server, else the oldest warm process (or a fresh one if there is none)."""
        msg = {"job": job_id, "attempt": attempt, "slot": slot, "gpus": gpu_count(),
               "threads": job_threads(self.limit())}
        line = (json.dumps(msg) + "\n").encode()
        forked = self.server.fork(line) if self.forking else None
        if forked is not None:
            self._started(job_id, attempt, slot, forked, warm=True)
            return
        warm = bool(self.spares)
        for _ in range(2):
            proc = self.spares.pop(0) if self.spares else self.spawn()
            try:
                proc.stdin.write(line)
                proc.stdin.close()
                break
            except (BrokenPipeError, OSError):  # the warm process died: use a fresh one
                proc.kill()
                proc.wait()
                warm = False
        self.db.set_spares([p.pid for p in self.spares])
        self._started(job_id, attempt, slot, proc, warm)

    def _started(self, job_id: str, attempt: int, slot: int, proc: subprocess.Popen | Forked, warm: bool) -> None:
        """Track the job's process and record its pid in the job table."""
        self.children[job_id] = Child(proc, job_id, attempt, slot)
        self.last_assign = time.monotonic()
        with self.db.transact():
            rec = self.db.job(job_id)
            if rec is not None and rec.get("attempt") == attempt and rec["status"] == RUNNING:
                rec.update(pid=proc.pid, pid_start=start_time(proc.pid))
                self.db.put(rec)
        self.db.count_start(warm)
        self.say(f"job {job_id} (attempt {attempt}) -> process {proc.pid}")

    def reap(self) -> bool:
        """Collect finished job processes; record why a job ended if it could not say so itself."""
        changed = False
        for job_id, ch in list(self.children.items()):
            code = ch.proc.poll()
            if code is None:
                continue
            del self.children[job_id]
            changed = True
            rec = self.db.job(job_id)
            if rec is None or rec["status"] != RUNNING or rec.get("attempt") != ch.attempt:
                continue  # the job wrote its own final status
            status, msg = self._ending(ch, rec, code)
            self.db.finish(job_id, ch.attempt, status, msg, exit_code=code)
            self.say(f"job {job_id}: {status}: {msg}")
        return changed

    def _ending(self, ch: Child, rec: dict, code: int) -> tuple[str, str]:
        """(status, message) of a job whose process exited with `code` before recording its end."""
        if ch.killed or self.db.cancel_asked(ch.job_id) is not None:
            return CANCELLED, forced_cancel_message(self.db, ch.job_id, rec)
        if code in tuple(-s for s in STOP_SIGNALS):
            k = self.db.epochs_done(ch.job_id, rec)
            return INTERRUPTED, f"{describe_exit(code, self.db.log_path)}; resume continues from epoch {k}"
        return dead_worker_ending(self.db, ch.job_id, rec, describe_exit(code, self.db.log_path))

    def enforce_cancels(self) -> None:
        now = time.time()
        for ch in self.children.values():
            if ch.cancel_at is not None and not ch.killed and now - ch.cancel_at > CANCEL_GRACE_S:
                with contextlib.suppress(ProcessLookupError):
                    ch.proc.kill()
                ch.killed = True

    # -- scheduling
    def schedule(self) -> None:
        """Start queued jobs in order while there is capacity; fail running jobs whose process is gone."""
        self.settings = self.db.settings()
        limit = self.limit()
        for ch in self.children.values():
            if ch.cancel_at is None:
                ch.cancel_at = self.db.cancel_asked(ch.job_id)
        if not self._work(limit):
            return
        with self.db.transact():
            keep, dead = self._sort_active()
            starts = self._assign(keep, limit)
            self.db.set_active(keep + [j for j, _ in dead])
        for job_id, rec in dead:
            self.db.fail_lost(job_id, rec)
        for job_id, attempt, slot in starts:
            self.launch(job_id, attempt, slot)

    def _sort_active(self) -> tuple[list[str], list[tuple[str, dict]]]:
        """(active jobs still queued or running, running jobs whose process is gone with their records)."""
        keep, dead = [], []
        for job_id in self.db.active():
            rec = self.db.job(job_id)
            if rec is None or rec["status"] not in ACTIVE:
                continue
            ours = job_id in self.children
            if rec["status"] == RUNNING and not ours and not alive(rec.get("pid"), rec.get("pid_start")):
                dead.append((job_id, rec))
            else:  # queued, ours, or a job of an earlier pool still going
                keep.append(job_id)
        return keep, dead

    def _assign(self, keep: list[str], limit: int) -> list[tuple[str, int, int]]:
        """Mark queued jobs running while there is capacity (inside a transaction): (job, attempt, slot) to start."""
        recs = {job_id: self.db.job(job_id) for job_id in keep}
        running = sum(r["status"] == RUNNING for r in recs.values())
        slots = {self.children[j].slot for j, r in recs.items() if r["status"] == RUNNING and j in self.children}
        starts = []
        for job_id, rec in recs.items():
            if rec["status"] != QUEUED or running >= limit or self.stopping:
                continue
            slot = min(set(range(limit + 1)) - slots)
            slots.add(slot)
            running += 1
            rec.update(status=RUNNING, started=time.time(), pool=self.ident, pid=None, pid_start=None,
                       boot=boot_id(), message="")
            self.db.put(rec)
            starts.append((job_id, rec["attempt"], slot))
        return starts

    def _work(self, limit: int) -> bool:
        """Read-only look: is there anything to start, fail or tidy? (Saves a write transaction per pass.)"""
        running, queued = 0, False
        for job_id in self.db.active():
            rec = self.db.job(job_id)
            if rec is None or rec["status"] not in ACTIVE:
                return True
            if rec["status"] == QUEUED:
                queued = True
            elif job_id in self.children or alive(rec.get("pid"), rec.get("pid_start")):
                running += 1
            else:
                return True
        return queued and running < limit and not self.stopping


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m engine.jobs.pool CHECKPOINT_ROOT", file=sys.stderr)
        return 2
    return Pool(argv[0]).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
