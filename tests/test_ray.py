"""The Ray backend against a real local Ray cluster (2 CPUs, 1 logical GPU so 0.25-GPU requests are scheduled).

No CUDA here: jobs with device "auto" train on the CPU while holding a logical GPU share.
"""

import os
import signal

import pytest

ray = pytest.importorskip("ray")

from waiting import until as _until  # noqa: E402

from engine.core.presets import preset  # noqa: E402
from engine.core.store import Store  # noqa: E402
from engine.jobs import CANCELLED, COMPLETED, FAILED, INTERRUPTED, RUNNING, JobError  # noqa: E402
from engine.jobs.classroom import ClassroomBackend, QuotaError, User  # noqa: E402
from engine.jobs.ray_backend import RayBackend, connect  # noqa: E402

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module", autouse=True)
def cluster():
    connect(num_cpus=2, num_gpus=1, include_dashboard=False)
    yield
    ray.shutdown()


@pytest.fixture
def rb():
    b = RayBackend(num_gpus=0.25, num_cpus=0.5, cancel_timeout=20)
    yield b
    b.close(kill_hub=True)


def tiny(**kw):
    """A 2-epoch VAE on the synthetic blobs: a second or two of training."""
    return preset("seed-vae", **{"dataset": "synthetic", "epochs": 2, "latent_dim": 2, "hidden": (32,), **kw})


def long(**kw):
    """Runs for minutes unless stopped: 1000 epochs of 63 small batches."""
    return tiny(epochs=1000, batch_size=8, **kw)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"  # a zombie has exited
    except (ProcessLookupError, FileNotFoundError):
        return False


def until(pred, timeout=180.0, poll=0.2, what=None):
    return _until(pred, timeout, poll, what)


def test_submit_progress_snapshot_and_gpu_share(rb):
    cfg = tiny()
    job = rb.submit(cfg, owner="alice")
    assert job == cfg.run_id()
    assert rb.status(job).status in ("queued", "running", "completed")
    info = rb.wait(job, timeout=180)
    assert info.status == COMPLETED, info.message
    assert (info.epoch, info.epochs, info.owner) == (2, 2, "alice")
    assert info.steps_total == info.step > 0 and not info.cached
    assert info.started >= info.created and info.finished >= info.started
    assert {"recon", "kl", "loss", "beta"} <= set(info.latest)

    m = rb.metrics(job)
    assert [e["epoch"] for e in m["epochs"]] == [1, 2]
    assert m["steps"][-1]["step"] == info.step
    assert rb.metrics(job, since_step=m["steps"][-2]["step"])["steps"] == m["steps"][-1:]
    assert m["events"][0]["kind"] == "start" and m["events"][0]["device"] == "cpu"
    assert m["attempt"] == 1 and m["info"]["device"] == "cpu" and m["info"]["params"] > 0

    snap = rb.snapshot(job)
    assert snap["recon"].shape == (16, 1, 28, 28) and snap["samples"].shape == (64, 1, 28, 28)
    assert snap["latent"].shape[1] == 2 and len(snap["labels"]) == len(snap["latent"])
    assert rb.snapshot(job, epoch=1)["recon"].shape == (16, 1, 28, 28)  # older epochs from the shared store

    w = rb.worker(job)
    assert w["resources"]["GPU"] == 0.25 and w["resources"]["CPU"] == 0.5 and w["cuda"] is False
    store = Store()
    assert store.is_complete(job) and (store.run_dir(job) / "state.pt").exists()
    assert store.snapshot_epochs(job) == [1, 2]

    other = RayBackend()  # a second app process on the same storage shares the hub and its jobs
    assert other.hub_name == rb.hub_name and other.status(job).status == COMPLETED
    assert [j.job_id for j in other.jobs(owner="alice")] == [job] and other.jobs(owner="bob") == []
    with pytest.raises(JobError, match="unknown job"):
        rb.status("nope-e1")


def test_cache_hit_is_served_without_training(rb):
    cfg = tiny(seed=3)
    job = rb.submit(cfg, owner="alice")
    assert rb.wait(job, timeout=180).status == COMPLETED
    steps = rb.status(job).step
    again = rb.submit(cfg, owner="bob")
    info = rb.status(again)  # at once, no task
    assert again == job and info.status == COMPLETED and info.cached
    assert info.owners == ["alice", "bob"] and info.step == steps

    rb.close(kill_hub=True)  # the hub is gone (cluster restarted): the shared store still serves the run
    fresh = RayBackend()
    info = fresh.status(job)
    assert info.status == COMPLETED and info.epoch == 2
    job2 = fresh.submit(cfg, owner="carol")
    assert fresh.status(job2).cached and fresh.worker(job2) == {}


def test_cancel_steer_resume_delete(rb):
    job = rb.submit(long(), owner="alice")
    until(lambda: rb.status(job).epoch >= 1)
    rb.steer(job, beta=0.25)
    until(lambda: any(s["beta"] == 0.25 for s in rb.metrics(job)["steps"]))
    assert any(e["kind"] == "beta" and e["value"] == 0.25 for e in rb.metrics(job)["events"])
    assert rb.snapshot(job)["recon"].shape == (16, 1, 28, 28)  # live, from the hub
    rb.cancel(job)
    info = rb.wait(job, timeout=120)
    assert info.status == CANCELLED and "stopped during epoch" in info.message
    kept = Store().load_state(job)["epoch"]
    assert kept >= 1 and kept <= info.epoch + 1
    with pytest.raises(JobError, match="only a queued or running job"):
        rb.steer(job, beta=1.0)
    with pytest.raises(JobError, match="beta must be"):
        rb.steer(job, beta=-1)
    with pytest.raises(JobError, match="nothing to change"):
        rb.steer(job)

    assert rb.resume(job) == job
    until(lambda: rb.status(job).epoch > kept)
    ev = [e for e in rb.metrics(job)["events"] if e["kind"] == "start"]
    assert ev[-1]["resumed_from"] == job and ev[-1]["epoch"] >= kept
    rb.delete(job)  # cancels the running task first
    with pytest.raises(JobError, match="unknown job"):
        rb.status(job)
    assert not Store().run_dir(job).exists()


def test_force_cancel_after_timeout():
    b = RayBackend(num_gpus=0.25, num_cpus=0.5, cancel_timeout=0)
    try:
        job = b.submit(long(seed=5), owner="alice")
        until(lambda: b.status(job).status == RUNNING and b.worker(job))
        b.cancel(job)
        info = b.wait(job, timeout=120)
        assert info.status == CANCELLED
    finally:
        b.close(kill_hub=True)


def test_worker_death_marks_failed_and_resumable(rb):
    job = rb.submit(long(seed=7), owner="alice")
    until(lambda: rb.status(job).epoch >= 1)
    w0 = rb.worker(job)["pid"]
    os.kill(w0, signal.SIGKILL)  # the worker process dies mid-epoch
    info = rb.wait(job, timeout=120)
    assert info.status == FAILED
    assert "worker running this job died" in info.message and "resume continues" in info.message
    done = Store().load_state(job)["epoch"]
    assert done >= 1
    rb.resume(job)
    until(lambda: rb.status(job).epoch > done)
    pid = rb.worker(job)["pid"]
    assert pid != w0

    rb.close(kill_hub=True)  # the hub (the cluster's job table) is lost too: the run is still not lost
    fresh = RayBackend(num_gpus=0.25, num_cpus=0.5)
    until(lambda: not alive(pid))  # its orphaned task stops too: never two trainers on one run
    info = until(lambda: (i := fresh.status(job)).status == INTERRUPTED and i, what=lambda: fresh.status(job))
    assert "resume continues from epoch" in info.message and info.epoch >= done + 1
    fresh.resume(job)
    until(lambda: fresh.status(job).epoch > info.epoch)
    fresh.delete(job)
    fresh.close(kill_hub=True)


def test_classroom_isolation_shared_cache_and_quotas(rb):
    alice, bob, teach = (ClassroomBackend(rb, User(n, r)) for n, r in
                         (("alice", "student"), ("bob", "student"), ("teach", "instructor")))
    with pytest.raises(JobError, match="only an instructor"):
        alice.set_policy(max_jobs_per_student=9)
    teach.set_policy(max_jobs_per_student=1, max_epochs=1000, max_queue=3)

    a = alice.submit(long(seed=11))
    assert [j.job_id for j in alice.jobs()] == [a] and bob.jobs() == []
    for call in (bob.status, bob.metrics, bob.snapshot, bob.cancel, bob.delete):
        with pytest.raises(JobError, match="unknown job"):
            call(a)
    with pytest.raises(QuotaError, match="already have 1 job"):
        alice.submit(tiny(seed=12))
    teach.set_policy(max_epochs=5, max_params=10_000)
    with pytest.raises(QuotaError, match="6 epochs is over this class's limit of 5"):
        bob.submit(tiny(epochs=6))
    with pytest.raises(QuotaError, match="parameters, over the class limit of 10,000"):
        bob.submit(tiny(hidden=(400,)))
    teach.set_policy(max_epochs=1000, max_params=3_000_000)

    assert bob.submit(long(seed=11)) == a  # same config: attaches, no quota, no second task
    assert bob.status(a).owners == ["bob"] and teach.status(a).owners == ["alice", "bob"]
    with pytest.raises(JobError, match="other students follow this run"):
        bob.steer(a, beta=2.0)
    b = bob.submit(long(seed=13))  # bob's own job (he started none yet)
    c = teach.submit(long(seed=14))
    with pytest.raises(QuotaError, match="class queue is full"):
        teach.submit(long(seed=15))
    assert {j.job_id for j in teach.jobs()} == {a, b, c}

    bob.cancel(a)  # shared: bob leaves it, alice's job keeps running
    assert rb.status(a).status in ("queued", "running") and bob.jobs()[0].job_id == b
    alice.cancel(a)
    assert alice.wait(a, timeout=120).status == CANCELLED
    teach.cancel(b)
    teach.cancel(c)
    assert {rb.wait(j, timeout=120).status for j in (b, c)} == {CANCELLED}


def test_training_errors_fail_the_job_with_their_message(rb):
    job = rb.submit(tiny(device="cuda"))  # this cluster's GPU share has no CUDA behind it
    info = rb.wait(job, timeout=120)
    assert info.status == FAILED and "no CUDA GPU is available" in info.message
    assert "\n" not in info.message and "resume" not in info.message
    job = rb.submit(tiny(dataset="fashion-mnist"))  # not on this machine
    info = rb.wait(job, timeout=120)
    assert info.status == FAILED and "Fashion-MNIST is not on this machine" in info.message


def test_local_cluster_started_off_the_main_thread_outlives_that_thread(tmp_path):
    """Streamlit runs each page run in a short-lived thread; the demo cluster it starts must survive it."""
    import subprocess
    import sys

    script = (
        "import threading, ray\n"
        "from engine.jobs.ray_backend import connect\n"
        "t = threading.Thread(target=lambda: connect(num_cpus=1)); t.start(); t.join()\n"
        "@ray.remote\n"
        "def f(): return 41 + 1\n"
        "print('answer', ray.get(f.remote(), timeout=60), flush=True)\n"
        "ray.shutdown()\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                         cwd=os.path.dirname(os.path.dirname(__file__)))
    assert "answer 42" in out.stdout, out.stderr[-2000:]


def test_a_job_no_node_can_hold_is_refused_with_one_line():
    """The test cluster has 2 CPUs and 1 GPU on its one node: a 4-CPU job, or a whole GPU with 3 CPUs, would wait
    forever."""
    for kw in ({"num_cpus": 4}, {"num_gpus": 1, "num_cpus": 3}):
        with pytest.raises(JobError) as e:
            RayBackend(**kw)
        msg = str(e.value)
        assert "no node of the Ray cluster has that much" in msg and "AE_LAB_RAY_CPUS" in msg and "\n" not in msg


def test_rays_own_ray_address_reaches_a_running_cluster(tmp_path):
    """With only RAY_ADDRESS set (no AE_LAB_RAY_ADDRESS), the backend joins that cluster instead of starting one:
    the subprocess sees this test's cluster (its one logical GPU, its GCS address)."""
    import subprocess
    import sys

    gcs = ray.get_runtime_context().gcs_address
    script = (
        "import ray\n"
        "from engine.jobs.ray_backend import RayBackend\n"
        "b = RayBackend(num_gpus=0.25, num_cpus=0.5)\n"
        "gcs, gpus = ray.get_runtime_context().gcs_address, ray.cluster_resources().get('GPU', 0)\n"
        "print('gcs', gcs, 'gpus', gpus, flush=True)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "AE_LAB_RAY_ADDRESS"}
    env.update(RAY_ADDRESS=gcs, AE_LAB_CHECKPOINTS=str(tmp_path / "checkpoints"))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env,
                         cwd=os.path.dirname(os.path.dirname(__file__)))
    assert f"gcs {gcs} gpus 1.0" in out.stdout, out.stderr[-2000:]


def test_a_longer_run_continuing_a_shorter_one_shows_the_earlier_epochs_live(rb):
    """The hub cannot read the store: the task sends the stored history with its start event."""
    one = rb.submit(tiny(epochs=1, seed=11))
    assert rb.wait(one, timeout=180).status == COMPLETED
    two = rb.submit(tiny(epochs=2, seed=11))
    assert rb.wait(two, timeout=180).status == COMPLETED
    m = rb.metrics(two)
    assert [e["epoch"] for e in m["epochs"]] == [1, 2]
    assert m["steps"][0]["epoch"] == 1 and any(e["kind"] == "resume" and e["from"] == one for e in m["events"])
