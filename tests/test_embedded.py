"""The embedded backend with real worker processes: lifecycle, cache hits, cancel, crash + resume, restart,
steering, the queue. Tiny configs on the synthetic dataset; long-running jobs are cancelled at the end."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from waiting import until

from engine.core.presets import preset
from engine.core.store import Store
from engine.core.trainer import train
from engine.jobs import CANCELLED, COMPLETED, FAILED, INTERRUPTED, QUEUED, RUNNING, JobError
from engine.jobs.embedded import EmbeddedBackend
from engine.jobs.procs import alive
from engine.jobs.progress import Progress


def tiny(seed: int, epochs: int = 3, batch_size: int = 32, **kw):
    """A small VAE on the synthetic set: 500 images, batch 32 -> 16 steps per epoch, a point every step."""
    return preset("seed-vae", dataset="synthetic", hidden=(64,), latent_dim=4, epochs=epochs, seed=seed,
                  batch_size=batch_size, **kw)


def slow(seed: int, epochs: int = 500):
    """Many short epochs of the same model: long enough to act on mid-run, each epoch checkpointed."""
    return tiny(seed, epochs=epochs)


def wait_for(pred, timeout: float = 120.0, poll: float = 0.01):
    return until(pred, timeout, poll)


def gone(pid: int) -> bool:
    """The process has exited and was reaped (no zombie left either)."""
    return not Path(f"/proc/{pid}").exists()


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    path = tmp_path_factory.mktemp("jobs") / "checkpoints"
    yield path
    b = EmbeddedBackend(path)
    pool = b.supervisor()
    spare = b.db.spare()
    b.shutdown()
    if pool:
        wait_for(lambda: not alive(pool), timeout=20)
    if spare:
        wait_for(lambda: not alive(spare), timeout=20)


@pytest.fixture
def backend(root):
    return EmbeddedBackend(root, max_jobs=1)


def test_the_supervisor_never_imports_torch():
    """The pool runs as `python -m engine.jobs.pool`: the package and its modules load only stdlib + diskcache."""
    code = "import sys, engine.jobs.pool; print([m for m in ('torch', 'numpy', 'pydantic') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).resolve().parent.parent)
    assert out.stdout.strip() == "[]", out.stderr


def test_progress_folds_the_trainers_reports_into_its_own_history(store):
    """The one reducer (used by the job process and the Ray hub) ends with the history the trainer stored,
    steering and resume events included, plus a start event per attempt."""
    calls = []

    def controls():
        calls.append(1)
        return {"beta": 0.5} if len(calls) > 5 else {}

    cfg = tiny(30, epochs=3)
    first = Progress(1)
    train(cfg, first.feed, lambda: first.step >= 20, store=store, controls=controls)  # stopped in epoch 2
    hist = store.history(cfg.run_id())  # as of the checkpoint of epoch 1
    assert [e["kind"] for e in first.events] == ["start", "beta"] and first.events[1] == hist["events"][0]
    assert first.steps[:16] == hist["steps"] and first.epochs == hist["epochs"] and first.step == 20

    second = Progress(2, before=lambda: store.history(cfg.run_id()))  # resumes from that checkpoint
    train(cfg, second.feed, store=store)
    hist = store.history(cfg.run_id())
    assert [e["kind"] for e in second.events] == ["beta", "start", "resume"]
    assert [e for e in second.events if e["kind"] != "start"] == hist["events"]
    assert second.steps == hist["steps"] and second.epochs == hist["epochs"]
    assert second.events[1]["resumed_from"] == cfg.run_id() and second.info["steps_per_epoch"] == 16
    assert (second.step, second.steps_total, second.epoch) == (48, 48, 3)


def test_submit_runs_to_completion_with_metrics_on_disk(backend, root):
    job = backend.submit(tiny(1))
    seen = {backend.status(job).status}
    info = wait_for(lambda: (i := backend.status(job)).done and i or seen.add(i.status))
    assert RUNNING in seen and info.status == COMPLETED, (seen, info)
    assert (info.epoch, info.epochs, info.step, info.steps_total) == (3, 3, 48, 48)
    assert info.latest["step"] == 48 and info.latest["beta"] == 1.0 and info.latest["recon"] > 0
    assert info.started and info.finished and info.finished >= info.started and not info.cached

    m = backend.metrics(job)
    hist = Store(root).history(job)  # what the trainer itself stored
    assert [p["step"] for p in m["steps"]] == list(range(1, 49))  # every step point, despite batched writes
    assert m["steps"] == hist["steps"] and [e["epoch"] for e in m["epochs"]] == [1, 2, 3]
    assert [p["step"] for p in backend.metrics(job, since_step=40)["steps"]] == list(range(41, 49))
    snap = backend.snapshot(job)
    assert snap["recon"].shape == (16, 1, 28, 28) and snap["recon"].dtype == torch.uint8
    assert (root / "runs" / job / "state.pt").exists()
    assert not backend.processes(job)


def test_complete_config_is_a_cache_hit_without_a_process(backend, root):
    cfg = tiny(2, epochs=2)
    job = backend.submit(cfg)
    first = backend.wait(job, timeout=120)
    assert first.status == COMPLETED
    starts = backend.db.starts()

    again = EmbeddedBackend(root).submit(cfg)  # e.g. another student, another process
    info = backend.status(again)
    assert again == job and info.status == COMPLETED and info.started == first.started
    assert backend.db.starts() == starts

    # a run trained outside the backend (CLI `train`) finishes at once, marked cached, no process started
    cfg2 = tiny(3, epochs=1)
    train(cfg2, store=Store(root))
    job2 = backend.submit(cfg2)
    info2 = backend.status(job2)
    assert info2.status == COMPLETED and info2.cached and info2.epoch == 1 and "cache" in info2.message
    assert backend.db.starts() == starts
    assert len(backend.metrics(job2)["steps"]) == 16

    backend.delete(job2)
    assert not (root / "runs" / job2).exists() and job2 not in [i.job_id for i in backend.jobs()]
    with pytest.raises(JobError, match="unknown job"):
        backend.status(job2)


def test_submit_of_an_active_job_attaches(backend):
    job = backend.submit(slow(4), owner="ann")
    assert backend.submit(slow(4), owner="bob") == job
    info = backend.status(job)
    assert info.owners == ["ann", "bob"] and info.status in (QUEUED, RUNNING)
    assert [i.job_id for i in backend.jobs(owner="bob")] == [job]
    backend.cancel(job)
    assert backend.status(job).status == CANCELLED


def test_cancel_stops_the_worker_and_keeps_the_last_epoch(backend, root):
    job = backend.submit(slow(5))
    wait_for(lambda: backend.status(job).epoch >= 1)
    pid = backend.processes(job)[0]
    t0 = time.monotonic()
    backend.cancel(job)
    print(f"cancel -> worker gone: {time.monotonic() - t0:.3f} s")
    info = backend.status(job)
    assert info.status == CANCELLED and not alive(pid)
    wait_for(lambda: gone(pid), timeout=10)  # reaped by the supervisor: no orphan, no zombie
    state = torch.load(root / "runs" / job / "state.pt", weights_only=True)
    assert state["epoch"] >= 1 and f"checkpoint of epoch {state['epoch']}" in info.message
    assert info.epoch == state["epoch"] < 500


def test_killed_worker_fails_with_the_reason_and_resumes(backend, root):
    cfg = slow(6, epochs=40)
    job = backend.submit(cfg)
    wait_for(lambda: backend.status(job).epoch >= 2)
    pid = backend.processes(job)[0]
    os.kill(pid, signal.SIGKILL)
    info = wait_for(lambda: (i := backend.status(job)).done and i)
    k = torch.load(root / "runs" / job / "state.pt", weights_only=True)["epoch"]
    assert info.status == FAILED and "signal 9" in info.message and f"from epoch {k}" in info.message, info
    assert 2 <= k < 40

    assert backend.resume(job) == job
    done = backend.wait(job, timeout=300)
    assert done.status == COMPLETED and done.epoch == 40, done
    m = backend.metrics(job)
    assert m["attempt"] == 2
    assert [e["epoch"] for e in m["epochs"]] == list(range(1, 41))  # epochs before k kept, k+1.. trained once
    steps = [p["step"] for p in m["steps"]]
    assert steps == list(range(1, 40 * 16 + 1))
    assert any(e["kind"] == "resume" and e["epoch"] == k for e in m["events"]), m["events"]


def test_sigterm_interrupts_and_resume_completes(backend):
    job = backend.submit(slow(7, epochs=30))
    wait_for(lambda: backend.status(job).epoch >= 1)
    os.kill(backend.processes(job)[0], signal.SIGTERM)
    info = wait_for(lambda: (i := backend.status(job)).done and i)
    assert info.status == INTERRUPTED and "SIGTERM" in info.message, info
    assert backend.wait(backend.resume(job), timeout=300).status == COMPLETED


def test_a_new_backend_object_sees_the_same_jobs(backend, root):
    done = backend.submit(tiny(8, epochs=1))
    backend.wait(done, timeout=120)
    running = backend.submit(slow(9))
    wait_for(lambda: backend.status(running).step > 0)

    fresh = EmbeddedBackend(root)  # as after an app restart
    ids = [i.job_id for i in fresh.jobs()]
    assert done in ids and running in ids and ids.index(running) < ids.index(done)  # newest first
    assert fresh.status(done).to_json() == backend.status(done).to_json()
    assert fresh.metrics(done) == backend.metrics(done)
    assert fresh.status(running).status == RUNNING
    fresh.cancel(running)  # and it controls them
    assert backend.status(running).status == CANCELLED
    with pytest.raises(JobError, match="unknown job"):
        fresh.status("nope")


def test_beta_change_shows_up_from_the_next_step(backend, root):
    job = backend.submit(slow(10))
    wait_for(lambda: backend.status(job).step >= 10)
    backend.steer(job, beta=0.25)
    wait_for(lambda: any(p["beta"] == 0.25 for p in backend.metrics(job)["steps"]))
    backend.steer(job, lr=3e-4)
    wait_for(lambda: any(p["lr"] == 3e-4 for p in backend.metrics(job)["steps"]))
    m = backend.metrics(job)
    ev = {e["kind"]: e for e in m["events"] if e["kind"] in ("beta", "lr")}
    s = ev["beta"]["step"]
    assert ev["beta"]["value"] == 0.25 and s >= 10
    assert all(p["beta"] == (0.25 if p["step"] > s else 1.0) for p in m["steps"])
    assert all(p["lr"] == (3e-4 if p["step"] > ev["lr"]["step"] else 1e-3) for p in m["steps"])
    # the trainer's own history (written at the next epoch end) records the same change at the same step
    wait_for(lambda: any(e["kind"] == "lr" for e in Store(root).history(job)["events"]))
    assert [e for e in Store(root).history(job)["events"] if e["kind"] in ("beta", "lr")] == [ev["beta"], ev["lr"]]
    with pytest.raises(JobError, match="beta must be"):
        backend.steer(job, beta=-1)
    backend.cancel(job)
    with pytest.raises(JobError, match="only a queued or running job"):
        backend.steer(job, beta=1.0)


def test_queue_honours_the_concurrency_limit(backend):
    first = backend.submit(slow(11, epochs=10))
    second = backend.submit(tiny(12, epochs=1))
    third = backend.submit(tiny(15, epochs=1))
    backend.cancel(third)  # still queued: cancelled without ever getting a process
    assert backend.status(third).status == CANCELLED and "before it started" in backend.status(third).message
    statuses = []
    while not (a := backend.status(first)).done:
        statuses.append((a.status, backend.status(second).status))
        time.sleep(0.02)
    assert (RUNNING, QUEUED) in statuses and all(b == QUEUED for a, b in statuses if a == RUNNING), statuses
    b = backend.wait(second, timeout=120)
    assert a.status == COMPLETED and b.status == COMPLETED and b.started >= a.finished
    assert backend.status(third).started is None and not backend.metrics(third)["steps"]


def test_dead_supervisor_is_survived(backend):
    """Kill -9 the supervisor with one job running and one queued: the running one finishes by itself, a
    status call starts a new supervisor for the queued one."""
    first = backend.submit(slow(13, epochs=10))
    second = backend.submit(tiny(14, epochs=1))
    wait_for(lambda: backend.status(first).step > 0)
    pool = backend.supervisor()
    os.kill(pool, signal.SIGKILL)
    wait_for(lambda: not alive(pool))
    assert backend.wait(first, timeout=300).status == COMPLETED
    assert backend.wait(second, timeout=300).status == COMPLETED
    assert backend.supervisor() not in (None, pool)


def test_jobs_of_a_restarted_machine_are_interrupted_and_resume(backend):
    """Supervisor and worker both gone, and the boot id changed (as after a reboot): the next status call marks
    the job interrupted; resume finishes it."""
    job = backend.submit(slow(16, epochs=20))
    wait_for(lambda: backend.status(job).epoch >= 1)
    pool, pid = backend.supervisor(), backend.processes(job)[0]
    os.kill(pool, signal.SIGKILL)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not alive(pool) and not alive(pid))
    with backend.db.transact():
        rec = backend.db.job(job)
        rec["boot"] = "an-earlier-boot"
        backend.db.put(rec)
    info = backend.status(job)
    assert info.status == INTERRUPTED and "machine restarted" in info.message, info
    assert backend.wait(backend.resume(job), timeout=300).status == COMPLETED


def nice_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def test_warm_processes_run_nicer_and_jobs_share_the_cores(tmp_path, monkeypatch):
    """warm=2 keeps two preloaded processes (started one after the other); job processes run at
    $AE_LAB_JOB_NICE below the app, and two jobs that may run at once on this machine share its cores."""
    monkeypatch.setenv("AE_LAB_JOB_NICE", "7")
    monkeypatch.setenv("AE_LAB_FORK_SERVER", "0")  # warm processes that each take one job (not the fork server)
    b = EmbeddedBackend(tmp_path / "warm2", max_jobs=2, warm=2)
    try:
        assert b.prewarm(wait=True, timeout=120)
        wait_for(lambda: len(b.db.spares()) == 2 and set(b.db.spares()) <= set(b.db.ready_pids()), timeout=120)
        spares = b.db.spares()
        assert all(nice_of(p) == min(19, nice_of(os.getpid()) + 7) for p in spares)
        first, second = b.submit(slow(40, epochs=20)), b.submit(slow(41, epochs=20))
        wait_for(lambda: b.status(first).step > 0 and b.status(second).step > 0)
        assert {b.processes(first)[0], b.processes(second)[0]} == set(spares)  # both went to warm processes
        threads = max(1, len(os.sched_getaffinity(0)) // 2)
        assert b.db.job(first)["threads"] == b.db.job(second)["threads"] == threads
    finally:
        b.shutdown()


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the fork server needs Linux")
def test_jobs_are_forked_from_one_preloaded_server_and_reaped_by_the_supervisor(tmp_path, monkeypatch):
    """On a CPU-only Linux machine the supervisor keeps one fork server: two jobs started at once are two new
    processes forked from it (nice like it, children of the supervisor after the double fork), so the supervisor
    reads how each ended: a job killed with SIGKILL fails with that signal and resumes from its checkpoint."""
    monkeypatch.setenv("AE_LAB_JOB_NICE", "5")
    monkeypatch.setenv("AE_LAB_FORK_SERVER", "1")
    b = EmbeddedBackend(tmp_path / "forked", max_jobs=2)
    try:
        assert b.prewarm(wait=True, timeout=120)
        (server,) = b.db.spares()
        first, second = b.submit(slow(50, epochs=20)), b.submit(slow(51, epochs=20))
        wait_for(lambda: b.status(first).step > 0 and b.status(second).step > 0)
        jobs = [b.processes(first)[0], b.processes(second)[0]]
        assert server not in jobs and jobs[0] != jobs[1]
        assert b.db.spares() == [server] and alive(server)  # the server stays, ready for the next job
        pool = b.supervisor()
        assert all(parent_of(p) == pool for p in jobs)
        assert all(nice_of(p) == nice_of(server) == min(19, nice_of(os.getpid()) + 5) for p in jobs)
        wait_for(lambda: b.status(first).epoch >= 1)
        os.kill(jobs[0], signal.SIGKILL)
        info = b.wait(first, timeout=60)
        assert info.status == FAILED and "signal 9" in info.message, info
        assert b.wait(b.resume(first), timeout=300).status == COMPLETED
        assert b.wait(second, timeout=300).status == COMPLETED
    finally:
        b.shutdown()
