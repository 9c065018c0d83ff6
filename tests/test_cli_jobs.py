"""The job subcommands: `submit` in a real subprocess that exits while its job trains on, `wait` with a
progress bar, and the rest (status, jobs, set, cancel, resume, errors) through engine.cli.main."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.cli import main
from engine.jobs import CANCELLED, COMPLETED, QUEUED, RUNNING
from engine.jobs.embedded import EmbeddedBackend
from engine.jobs.procs import alive

PROJECT = Path(__file__).resolve().parent.parent
TINY = ["--preset", "seed-vae", "--dataset", "synthetic", "--batch-size", "32", "--latent-dim", "4"]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine", *args], cwd=PROJECT, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "AE_LAB_BACKEND": "embedded"})


@pytest.fixture
def root(tmp_path):
    path = Path(os.environ["AE_LAB_CHECKPOINTS"])  # set per test by conftest
    yield path
    b = EmbeddedBackend(path)
    pool = b.supervisor()
    b.shutdown()
    t0 = time.monotonic()
    while pool and alive(pool) and time.monotonic() - t0 < 20:
        time.sleep(0.05)


def test_submit_returns_at_once_and_wait_shows_progress(root, capsys):
    r = cli("submit", *TINY, "--epochs", "3", "--seed", "1")
    assert r.returncode == 0, r.stderr
    job = r.stdout.strip()
    assert len(r.stdout.splitlines()) == 1 and job.endswith("-e3")  # only the id on stdout
    # the CLI process is gone; the job lives on in the background worker
    b = EmbeddedBackend(root)
    assert b.status(job).status in (QUEUED, RUNNING, COMPLETED)

    w = cli("wait", job)
    assert w.returncode == 0, w.stderr
    assert "48/48" in w.stderr and "completed" in w.stdout  # tqdm bar over all steps, then the summary

    assert main(["status", job, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["status"] == COMPLETED and info["epoch"] == 3 and info["step"] == 48
    assert main(["jobs"]) == 0
    assert job in capsys.readouterr().out

    # the same config again: a cache hit, printed as such, same id, no new process
    assert main(["submit", *TINY, "--epochs", "3", "--seed", "1"]) == 0
    out = capsys.readouterr()
    assert out.out.strip() == job and "already trained" in out.err


def test_set_cancel_wait_resume(root, capsys):
    assert main(["submit", *TINY, "--epochs", "500", "--seed", "2"]) == 0
    job = capsys.readouterr().out.strip()
    b = EmbeddedBackend(root)
    t0 = time.monotonic()
    while b.status(job).step < 5:
        assert time.monotonic() - t0 < 120, b.status(job)
        time.sleep(0.02)

    assert main(["set", job, "--beta", "0.5"]) == 0
    assert "β = 0.5" in capsys.readouterr().out
    while not any(p["beta"] == 0.5 for p in b.metrics(job)["steps"]):
        time.sleep(0.02)

    assert main(["cancel", job]) == 0
    assert CANCELLED in capsys.readouterr().out and b.status(job).status == CANCELLED
    assert main(["wait", job, "--quiet"]) == 1  # not completed -> non-zero
    capsys.readouterr()

    assert main(["resume", job]) == 0
    assert capsys.readouterr().out.strip() == job
    assert b.status(job).status in (QUEUED, RUNNING)
    b.cancel(job)


@pytest.mark.parametrize("args, message", [
    (["status", "nope"], "unknown job 'nope'"),
    (["cancel", "nope"], "unknown job 'nope'"),
    (["set", "nope", "--beta", "1"], "unknown job 'nope'"),
    (["set", "nope"], "give --beta"),
    (["status", "nope", "--backend", "bogus"], "unknown backend 'bogus'"),
    (["submit", "--preset", "seed-vae", "--epochs", "0"], "epochs"),
    (["submit", "--preset", "nope"], "unknown preset"),
])
def test_errors_are_one_line_with_exit_2(root, capsys, args, message):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_bench_jobs_burst_trains_every_run(capsys):
    """`bench-jobs --burst N` submits N different quick-demo runs at once (one job at a time here) and reports each
    one's first point and that all of them completed; its throw-away folder and processes are gone afterwards."""
    assert main(["bench-jobs", "--burst", "2", "--max-jobs", "1", "--warm", "1"]) == 0
    out = capsys.readouterr().out
    assert "2 quick-demo runs submitted at once (1 at a time, 1 warm" in out
    assert "submit → first point: median" in out and "statuses: ['completed']" in out
