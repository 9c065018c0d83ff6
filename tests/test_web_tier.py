"""The web tier end to end: scripts/web_tier.py starts 2 Streamlit replicas behind a real HAProxy (127.0.0.1 only),
on one checkpoint store and one embedded job backend; Debian's Chromium drives it through the balancer.

- one browser: pages, pictures (Streamlit media), an upload and a download all go through the balancer, and every
  request of that client reaches one replica (HAProxy's own per-server counters say the other got none);
- several browsers: the SRV cookie spreads them over both replicas, and each keeps its own;
- a replica killed mid-class: its students' pages reconnect to the other replica and are drawn again, the job one
  of them launched there keeps training (the job supervisor is shared, not the replica's), and every stored run
  is still listed and byte for byte intact.
Every process started here is stopped at the end (the tier script stops HAProxy and the replicas; the fixture
kills whatever is left by pid, and conftest stops the job supervisor).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from test_e2e import BOOT_S, CHROMIUM, CHROMIUM_ARGS, RUN_S, free_port, no_exception, set_number, settle

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from web_tier import healthy, render_config, server_stats  # noqa: E402 - scripts/ is not a package

HAPROXY = shutil.which("haproxy") or next((p for p in ("/usr/sbin/haproxy",) if Path(p).exists()), None)
needs_haproxy = pytest.mark.skipif(HAPROXY is None, reason="needs HAProxy (Debian: apt-get install haproxy)")
needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium at /usr/bin/chromium")


@contextlib.contextmanager
def web_tier(tmp_path: Path, *args: str) -> Iterator[dict]:
    """scripts/web_tier.py with 2 replicas on a free port; yields its `ready` state (+ "lines": its output so far)."""
    env = {**os.environ, "AE_LAB_DATA": str(tmp_path / "data"), "AE_LAB_MAX_JOBS": "2", "AE_LAB_JOB_NICE": "0",
           "PATH": f"{Path(HAPROXY).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.Popen([sys.executable, "scripts/web_tier.py", "--replicas", "2", "--port", str(free_port()),
                             "--run-dir", str(tmp_path / "tier"), *args],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True).start()
    state: dict = {}
    try:
        deadline = time.monotonic() + BOOT_S + 60
        while not state and time.monotonic() < deadline:
            ready = [x for x in lines if x.startswith("ready ")]
            if ready:
                state = json.loads(ready[0][len("ready "):])
            assert proc.poll() is None or state, "".join(lines)
            time.sleep(0.2)
        assert state, "web_tier.py did not get ready:\n" + "".join(lines)
        state["lines"] = lines
        yield state
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for pid in [state.get("haproxy"), *(r["pid"] for r in state.get("replicas", []))]:
            with contextlib.suppress(ProcessLookupError, TypeError):
                os.kill(pid, signal.SIGKILL)  # nothing is left (normally the script has stopped them)
                raise AssertionError(f"process {pid} of the tier was still running after the tier stopped")


@pytest.fixture
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def shared_tier(tmp_path_factory):
    """One tier (and its store, holding one trained run) for the tests that leave it as it was: a tier start and
    each replica's first page (PyTorch loading) cost tens of CPU-seconds on a busy machine."""
    if HAPROXY is None:
        pytest.skip("needs HAProxy (Debian: apt-get install haproxy)")
    from engine.jobs.embedded import EmbeddedBackend

    tmp = tmp_path_factory.mktemp("shared-tier")
    root = tmp / "checkpoints"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AE_LAB_CHECKPOINTS", str(root))
        try:
            run_id = trained_run(root)
            with web_tier(tmp) as tier:
                yield {**tier, "root": root, "tmp": tmp, "run_id": run_id}
        finally:
            EmbeddedBackend(root).shutdown()


def student(browser, url: str, path: str = ""):
    """A new browser (its own cookies) with `url/path` open and drawn."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    pg = ctx.new_page()
    pg.goto(f"{url}/{path}")
    settle(pg)
    no_exception(pg)
    return pg


def replica_of(pg) -> str:
    """The replica the balancer pinned this browser to (HAProxy's SRV cookie)."""
    values = [c["value"] for c in pg.context.cookies() if c["name"] == "SRV"]
    assert len(values) == 1, pg.context.cookies()
    return values[0]


def trained_run(root: Path) -> str:
    """A finished 1-epoch seed-vae on 1,000 bundled MNIST digits in the store (pictures on every viewing page)."""
    from engine.core.presets import preset
    from engine.core.store import Store
    from engine.core.trainer import train

    return train(preset("seed-vae", dataset="mnist", epochs=1, train_limit=1000), store=Store(root)).run_id


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def wait_images(pg, at_least: int) -> None:
    """At least `at_least` Streamlit pictures, each decoded (real pixels fetched from /media through HAProxy)."""
    pg.wait_for_function(f"() => document.querySelectorAll('[data-testid=stImage] img').length >= {at_least}",
                         timeout=60_000)
    imgs = pg.locator("[data-testid=stImage] img:visible")
    for i in range(imgs.count()):
        img = imgs.nth(i)
        img.scroll_into_view_if_needed()
        pg.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img.element_handle(), timeout=30_000)


# ---- without a browser ------------------------------------------------------------------------------------
@needs_haproxy
def test_the_rendered_config_is_one_haproxy_accepts(tmp_path):
    from web_tier import Replica

    replicas = [Replica(f"r{i}", 8510 + i, tmp_path / f"r{i}.log") for i in (1, 2, 3)]
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(render_config(replicas, "127.0.0.1:8501", tmp_path))
    text = cfg.read_text()
    assert "cookie SRV insert indirect nocache" in text and "option httpchk GET /_stcore/health" in text
    assert [x.split()[1] for x in text.splitlines() if x.strip().startswith("server ")] == ["r1", "r2", "r3"]
    check = subprocess.run([HAPROXY, "-c", "-f", str(cfg)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr + check.stdout


def test_ray_without_a_cluster_address_is_refused_with_one_line(tmp_path):
    """Each replica would start a local Ray of its own and see none of the others' jobs."""
    env = {k: v for k, v in os.environ.items() if k not in ("AE_LAB_RAY_ADDRESS", "RAY_ADDRESS")}
    r = subprocess.run([sys.executable, "scripts/web_tier.py", "--run-dir", str(tmp_path / "tier")], cwd=ROOT,
                       env={**env, "AE_LAB_BACKEND": "ray"}, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.strip().count("\n") == 0 and "AE_LAB_RAY_ADDRESS" in r.stderr, r.stderr
    assert not (tmp_path / "tier" / "r1.log").exists(), "nothing was started"


# ---- through the balancer -----------------------------------------------------------------------------------
@pytest.mark.e2e
@needs_haproxy
def test_a_replica_that_exits_is_started_again_and_haproxy_takes_it_back(tmp_path):
    with web_tier(tmp_path) as tier:
        sock = Path(tier["socket"])
        r1 = tier["replicas"][0]
        os.kill(r1["pid"], signal.SIGKILL)
        deadline = time.monotonic() + BOOT_S
        while not any("replica r1 started again" in x for x in tier["lines"]) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert any("replica r1 started again" in x for x in tier["lines"]), tier["lines"]
        new_pid = int(next(x for x in tier["lines"] if "replica r1 started again" in x).split("pid ")[1].split(")")[0])
        assert new_pid != r1["pid"]
        def back() -> bool:  # the new process answers, and HAProxy counts it in (rise 2 after it saw it down)
            return healthy(f"http://127.0.0.1:{r1['port']}") and server_stats(sock)["r1"]["status"] == "UP"

        while not back() and time.monotonic() < deadline:
            time.sleep(0.3)
        time.sleep(5)  # two more health checks: a replica HAProxy marked down meanwhile is up again (rise 2, inter 2s)
        assert back(), server_stats(sock)
        before = server_stats(sock)["r1"]["stot"]
        req = urllib.request.Request(f"{tier['url']}/", headers={"Cookie": "SRV=r1"})
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.status == 200
        assert server_stats(sock)["r1"]["stot"] == before + 1, "a browser pinned to r1 is served by it again"
        tier["replicas"][0]["pid"] = new_pid  # the fixture checks it is gone at the end


@pytest.mark.e2e
@needs_haproxy
@needs_chromium
def test_a_browser_through_the_balancer_pages_pictures_upload_download_on_one_replica(shared_tier, chromium):
    tier, root = shared_tier, shared_tier["root"]
    sock = Path(tier["socket"])
    before = server_stats(sock)
    pg = student(chromium, tier["url"])
    mine = replica_of(pg)

    pg.goto(f"{tier['url']}/Reconstructions")
    settle(pg)
    wait_images(pg, 2)
    no_exception(pg)

    pg.goto(f"{tier['url']}/Runs")
    settle(pg)
    no_exception(pg)
    with pg.expect_download(timeout=60_000) as dl:
        pg.get_by_role("button", name="Download model").click()
    names = zipfile.ZipFile(io.BytesIO(Path(dl.value.path()).read_bytes())).namelist()
    run = dl.value.suggested_filename.removesuffix(".zip")
    assert (root / "runs" / run).is_dir() and any(n.endswith("model.py") for n in names), (run, names)

    pg.goto(f"{tier['url']}/Your_data")
    settle(pg)
    digits = (np.random.default_rng(0).random((40, 28, 28)) * 255).astype(np.uint8)
    buf = io.BytesIO()
    np.save(buf, digits)
    pg.locator("[data-testid=stFileUploader] input[type=file]").set_input_files(
        files=[{"name": "my_digits.npy", "mimeType": "application/octet-stream", "buffer": buf.getvalue()}])
    pg.get_by_role("button", name="Keep this dataset").wait_for(timeout=60_000)
    wait_images(pg, 1)  # the preview
    pg.get_by_role("button", name="Keep this dataset").click()
    pg.get_by_text("Train on an uploaded dataset").wait_for(timeout=30_000)
    settle(pg)
    no_exception(pg)
    assert list((tier["tmp"] / "data" / "uploads").glob("*/data.npz")), "the upload was stored"

    assert replica_of(pg) == mine
    after = server_stats(sock)
    other = next(n for n in after if n != mine)
    assert after[mine]["stot"] - before[mine]["stot"] >= 5, (before, after)
    assert after[other]["stot"] == before[other]["stot"], f"a request of this client reached {other}: {after}"


@pytest.mark.e2e
@needs_haproxy
@needs_chromium
def test_browsers_spread_over_both_replicas_and_each_keeps_its_own(shared_tier, chromium):
    tier = shared_tier
    pages = [student(chromium, tier["url"]) for _ in range(4)]
    pinned = [replica_of(pg) for pg in pages]
    assert sorted(set(pinned)) == ["r1", "r2"], pinned
    stats = server_stats(Path(tier["socket"]))
    assert all(s["scur"] >= 1 for s in stats.values()), f"both replicas hold open websockets: {stats}"
    for pg, first in zip(pages, pinned, strict=True):
        pg.locator("[data-testid=stSidebarNav] a", has_text="Runs").first.click()
        pg.wait_for_url("**/Runs", timeout=60_000)
        settle(pg)
        pg.reload()
        settle(pg)
        no_exception(pg)
        assert replica_of(pg) == first


@pytest.mark.e2e
@needs_haproxy
@pytest.mark.skipif(not (ROOT / "scripts" / "class_ws.py").exists(), reason="needs scripts/class_ws.py (issue 22)")
def test_the_class_benchmark_through_the_balancer(shared_tier, tmp_path):
    """A short class at Streamlit's protocol level (scripts/class_ws.py --url): no errors, and the students' own
    sessions (each with its SRV cookie) land on both replicas."""
    out, tier = tmp_path / "class_ws.json", shared_tier
    sock = Path(tier["socket"])
    before = server_stats(sock)
    r = subprocess.run([sys.executable, "scripts/class_ws.py", "--url", tier["url"], "--local", "--sessions", "4",
                        "--think", "1", "--ramp", "2", "--watch", "15", "--out", str(out)],
                       cwd=ROOT, capture_output=True, text=True, timeout=480)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    after = server_stats(sock)
    level = json.loads(out.read_text())["levels"][0]
    assert level["errors"] == [], level["errors"]
    assert level["figures"]["actions"]["n"] >= 4 * 5, level["figures"]["actions"]  # every student walked its path
    assert all(after[s]["stot"] > before[s]["stot"] for s in after), (before, after)


@pytest.mark.e2e
@needs_haproxy
@needs_chromium
def test_a_replica_killed_mid_class_its_students_reconnect_and_nothing_stored_is_lost(tmp_path, chromium):
    from engine.core.store import Store
    from engine.jobs.embedded import EmbeddedBackend

    root = Path(os.environ["AE_LAB_CHECKPOINTS"])
    old = trained_run(root)
    kept = digests(Store(root).run_dir(old))
    with web_tier(tmp_path, "--no-restart") as tier:
        pages = [student(chromium, tier["url"]) for _ in range(2)]  # one on each replica
        pinned = [replica_of(pg) for pg in pages]
        assert sorted(set(pinned)) == ["r1", "r2"], pinned

        launcher = pages[0]  # launches a 10-epoch run from its replica, then loses that replica while it trains
        launcher.goto(f"{tier['url']}/Train")
        settle(launcher)
        set_number(launcher, "Epochs", 10)  # ~6 s on a quiet 2-core machine
        launcher.get_by_role("button", name="Launch").click()
        launcher.wait_for_url("**/Live_run", timeout=60_000)
        launcher.locator("[data-testid=stProgress]", has_text="running").wait_for(timeout=RUN_S * 1000)
        job = EmbeddedBackend(root).jobs()[0]
        assert job.status == "running", job

        victim = pinned[0]
        survivor = next(r for r in ("r1", "r2") if r != victim)
        os.kill(next(r["pid"] for r in tier["replicas"] if r["name"] == victim), signal.SIGKILL)
        for pg, was in zip(pages, pinned, strict=True):  # its students: drawn again, now on the survivor
            if was == victim:
                pg.wait_for_function(
                    "() => document.querySelector('[data-testid=stApp]')"
                    "?.getAttribute('data-test-connection-state') === 'CONNECTED'", timeout=60_000)
                settle(pg)
                no_exception(pg)
                deadline = time.monotonic() + 30
                while replica_of(pg) != survivor and time.monotonic() < deadline:
                    time.sleep(0.5)
            assert replica_of(pg) == survivor if was == victim else replica_of(pg) == was
        assert any(f"replica {victim}" in x and "exited" in x for x in tier["lines"]), tier["lines"]

        backend = EmbeddedBackend(root)  # the job outlived the replica that launched it
        deadline = time.monotonic() + RUN_S
        while backend.status(job.job_id).status in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(1.0)
        assert backend.status(job.job_id).status == "completed", backend.status(job.job_id)

        launcher.goto(f"{tier['url']}/Runs")
        settle(launcher)
        no_exception(launcher)
        listed = launcher.locator("[data-testid=stSelectbox]").first
        listed.click()
        options = launcher.get_by_role("option").all_inner_texts()
        for run in (old, job.job_id):  # a run's name ends with its id's first 6 characters and its epochs
            assert any(f"{run[:6]}-e" in o for o in options), (run, options)
    store = Store(root)
    assert store.is_complete(old) and store.is_complete(job.job_id)
    assert digests(store.run_dir(old)) == kept, "the run trained before the class is byte for byte intact"
