"""The pool's fork server (engine/jobs/forkserver.py) when it dies, never gets ready or does not answer: each
counts as a failure, it is replaced, and after three the pool stops starting it (jobs then start without it)."""

from __future__ import annotations

import subprocess
import sys

from engine.jobs.forkserver import MAX_FAILURES, ForkServer
from engine.jobs.procs import Forked


class Table:
    """The two calls of the job table the fork server makes: which pids are ready, and the warm pids to show."""

    def __init__(self):
        self.ready: set[int] = set()
        self.shown: list[list[int]] = []

    def ready_pids(self) -> set[int]:
        return self.ready

    def set_spares(self, pids: list[int]) -> None:
        self.shown.append(pids)


def python(code: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE)


def made(code: str, db: Table, said: list[str]) -> tuple[ForkServer, list[subprocess.Popen]]:
    spawned: list[subprocess.Popen] = []

    def spawn() -> subprocess.Popen:
        spawned.append(python(code))
        return spawned[-1]

    return ForkServer(spawn, db, said.append), spawned


def test_a_server_that_keeps_dying_is_restarted_three_times_then_left_off():
    db, said = Table(), []
    server, spawned = made("raise SystemExit(3)", db, said)
    for _ in range(MAX_FAILURES + 2):
        server.keep()
        if server.proc is not None:
            server.proc.wait(30)
    assert len(spawned) == MAX_FAILURES and server.failures == MAX_FAILURES and server.proc is None
    assert db.shown == [[p.pid] for p in spawned]
    assert said == [f"fork server {p.pid} exited with 3" for p in spawned]
    assert all(p.stdout.closed and p.stdin.closed for p in spawned)  # reaped, pipes closed


def test_a_server_that_is_not_ready_gets_no_job_and_one_that_does_not_answer_is_replaced():
    db, said = Table(), []
    server, spawned = made("import sys; sys.stdin.readline(); print('nonsense', flush=True)", db, said)
    server.keep()
    first = server.proc
    assert server.fork(b'{"job": "a"}\n') is None and server.proc is first  # still loading: not asked
    db.ready.add(first.pid)
    assert server.fork(b'{"job": "a"}\n') is None  # answered something that is not a pid
    assert server.proc is None and server.failures == 1 and first.returncode is not None
    assert said == [f"fork server {first.pid} did not answer: replaced"]
    server.keep(start=False)  # the pool is stopping: no new one
    assert server.proc is None and len(spawned) == 1


def test_a_server_that_answers_with_a_pid_forks_and_end_stops_it():
    db, said = Table(), []
    child = python("import time; time.sleep(30)")  # stands for the forked job process
    server, _ = made(f"import sys\nfor line in sys.stdin: print({child.pid}, flush=True)", db, said)
    try:
        server.keep()
        db.ready.add(server.proc.pid)
        forked = server.fork(b'{"job": "a"}\n')
        assert isinstance(forked, Forked) and forked.pid == child.pid
        proc = server.proc
        server.end()
        assert server.proc is None and server.failures == 0 and proc.returncode is not None
        server.end()  # nothing to stop: no error
        assert said == []
    finally:
        child.kill()
        child.wait()
    server.keep()  # ended on purpose (not a failure): a new one starts
    assert server.proc is not None and server.proc.pid != proc.pid
    server.end()
