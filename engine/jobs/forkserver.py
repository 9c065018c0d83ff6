"""The pool's fork server: one warm job process (`engine.jobs.child --serve`) that, for each job line written to
its stdin, forks a job process and answers with that process's pid on its stdout. A fork of a preloaded process
reaches its first step sooner than a fresh interpreter, and costs the cores nothing while it waits.

Like the pool, it never imports torch (the served process does)."""

from __future__ import annotations

import select
import subprocess
from collections.abc import Callable

from .jobdb import JobDB
from .procs import Forked

FORK_TIMEOUT_S = 10.0  # the fork server answers a job line with the job's pid within this (a fork takes ms)
MAX_FAILURES = 3  # restarts after the server died or did not answer; then jobs start the way without it


class ForkServer:
    """Keeps one fork server running for a pool, and forks job processes from it."""

    def __init__(self, spawn: Callable[[], subprocess.Popen], db: JobDB, say: Callable[[str], None]):
        self.spawn, self.db, self.say = spawn, db, say
        self.proc: subprocess.Popen | None = None
        self.failures = 0

    def keep(self, start: bool = True) -> None:
        """Forget it if it died (counted as a failure); start one if there is none, `start` and fewer than
        MAX_FAILURES failures so far."""
        if self.proc is not None and self.proc.poll() is not None:
            self.say(f"fork server {self.proc.pid} exited with {self.proc.returncode}")
            self.end(failed=True)
        if self.proc is None and start and self.failures < MAX_FAILURES:
            self.proc = self.spawn()
            self.db.set_spares([self.proc.pid])

    def fork(self, line: bytes) -> Forked | None:
        """A job process forked for this job line, or None if the server is not ready or does not answer (it is
        then replaced)."""
        srv = self.proc
        if srv is None or srv.poll() is not None or srv.pid not in self.db.ready_pids():
            return None
        try:
            srv.stdin.write(line)
            srv.stdin.flush()
            ready, _, _ = select.select([srv.stdout], [], [], FORK_TIMEOUT_S)
            pid = int(srv.stdout.readline()) if ready else 0
        except (OSError, ValueError):
            pid = 0
        if pid > 0:
            return Forked(pid)
        self.say(f"fork server {srv.pid} did not answer: replaced")
        self.end(failed=True)
        return None

    def end(self, failed: bool = False) -> None:
        """Stop it if it still runs, reap it, close its pipes and forget it; the jobs it forked are separate
        processes (re-parented to the pool) and go on."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()
        self.proc = None
        self.failures += failed
