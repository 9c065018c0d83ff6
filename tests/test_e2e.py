"""End to end: `streamlit run app.py` headless on a free port, driven by Playwright in Debian's Chromium.

Launches a short seed-VAE run on the bundled MNIST from the Train page, watches the Live run chart
update, checks the reconstruction, sample and latent pictures appear, that no page shows an
exception, and saves a screenshot of every page into test-artifacts/dashboard/ (git-ignored).
Run: .venv/bin/python -m pytest tests/test_e2e.py -m e2e -q
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts" / "dashboard"  # git-ignored; one PNG per page
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
BOOT_S = 120  # first page render imports torch and loads MNIST: slow on a busy 2-core machine
RUN_S = 300  # the short run itself (seconds on an idle laptop)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_app(tmp_path: Path, env: dict, port: int | None = None, script: str = "app.py") -> Iterator[str]:
    """`streamlit run SCRIPT` on `port` (default: a free one) with `env`, its log in tmp_path; yields its URL,
    stops it afterwards."""
    port = port or free_port()
    log = open(tmp_path / "streamlit.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", script, "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env={**env, "PYTHONUNBUFFERED": "1"}, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + BOOT_S
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                break
            except OSError:
                assert proc.poll() is None, (tmp_path / "streamlit.log").read_text()
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def server(tmp_path):
    """The app with its own checkpoint folder; yields its URL and that folder, stops it and its jobs afterwards."""
    try:
        with streamlit_app(tmp_path, {**os.environ, "AE_LAB_CHECKPOINTS": str(tmp_path / "checkpoints")}) as url:
            yield url, tmp_path / "checkpoints"
    finally:
        from engine.jobs.embedded import EmbeddedBackend

        EmbeddedBackend(tmp_path / "checkpoints").shutdown()  # stop the run's worker processes


@pytest.fixture
def chromium_page():
    """A page in Debian's Chromium (not pytest-playwright's downloaded browsers: this machine is offline)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        yield pg
        browser.close()


def settle(pg, timeout_s: float = BOOT_S) -> None:
    """Wait until the page's script has drawn its title and finished running."""
    pg.wait_for_selector("[data-testid=stMain] h1", timeout=timeout_s * 1000)
    time.sleep(0.5)
    pg.wait_for_selector("[data-testid=stStatusWidget]", state="hidden", timeout=timeout_s * 1000)
    time.sleep(0.5)


def no_exception(pg) -> None:
    n = pg.locator("[data-testid=stException], .stException").count()
    assert n == 0, pg.locator("[data-testid=stException]").first.inner_text()


def shoot(pg, name: str) -> Path:
    """A screenshot of the whole page (Streamlit scrolls inside its main container, so grow the viewport)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    height = pg.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
    pg.set_viewport_size({"width": 1400, "height": min(max(int(height) + 40, 1000), 6000)})
    time.sleep(1.0)
    path = ARTIFACTS / f"{name}.png"
    pg.screenshot(path=str(path))
    pg.set_viewport_size({"width": 1400, "height": 1000})
    return path


def set_number(pg, label: str, value: int) -> None:
    box = pg.get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Enter")
    time.sleep(0.5)
    pg.wait_for_selector("[data-testid=stStatusWidget]", state="hidden", timeout=60_000)


def test_launch_a_seed_vae_and_see_every_page(server, chromium_page):
    from playwright.sync_api import expect

    from engine.jobs.embedded import EmbeddedBackend

    server, checkpoints = server
    pg = chromium_page
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()

    pg.goto(server)
    settle(pg)
    no_exception(pg)
    assert "variational autoencoder" in pg.inner_text("[data-testid=stMain]")
    pg.wait_for_selector("text=GPU found", timeout=BOOT_S * 1000)  # Home draws its text first, then loads torch
    shoot(pg, "0_home")

    # Train (through the sidebar's navigation): the seed-vae preset with a short run on the bundled MNIST.
    pg.locator("[data-testid=stSidebarNav] a", has_text="Train").first.click()
    pg.wait_for_url("**/Train", timeout=60_000)
    settle(pg)
    assert "seed-vae" in pg.inner_text("[data-testid=stMain]")
    launch = pg.get_by_role("button", name="Launch")
    set_number(pg, "Epochs", 30)  # all 9,000 bundled digits: 15–60 s of training, time to watch and steer it
    no_exception(pg)
    expect(launch).to_be_enabled(timeout=30_000)
    shoot(pg, "1_train")

    # A bad value is explained and blocks the launch; fixing it unblocks.
    set_number(pg, "β warm-up epochs", 2)
    set_number(pg, "Contractive weight", 1)
    expect(pg.locator("[data-testid=stAlertContentError]")).to_contain_text(
        "contractive weight needs an autoencoder with a deterministic encoder", timeout=30_000)
    expect(launch).to_be_disabled(timeout=30_000)
    shoot(pg, "1_train_error")
    set_number(pg, "Contractive weight", 0)
    set_number(pg, "β warm-up epochs", 0)
    expect(launch).to_be_enabled(timeout=30_000)

    # Launch -> the Live run page opens by itself and updates while the job runs.
    launch.click()
    pg.wait_for_url("**/Live_run", timeout=60_000)
    progress = pg.locator("[data-testid=stProgress]")
    chart = pg.locator("[data-testid=stVegaLiteChart]").first
    seen, first_chart, shot_running, steered, steer_at = [], None, False, False, 0
    deadline = time.monotonic() + RUN_S
    while time.monotonic() < deadline:
        if progress.count():
            t = progress.first.inner_text()
            if not seen or seen[-1] != t:
                seen.append(t)
            if "running" in t and chart.count() and chart.locator("canvas, svg").count():
                if first_chart is None:
                    first_chart = chart.screenshot()
                if not steered:  # raise β from 1 to 2 with the slider (20 steps of 0.05) and apply it
                    thumb = pg.get_by_role("slider", name="β (KL weight)")
                    thumb.focus()
                    for _ in range(20):
                        thumb.press("ArrowRight")
                    pg.get_by_role("button", name="Apply to the running job").click()
                    steered, steer_at = True, len(seen)
                if steered and not shot_running and len(seen) >= steer_at + 2:  # the β change is on the chart
                    time.sleep(0.3)  # let the fragment finish drawing
                    shoot(pg, "2_live_running")
                    shot_running = "running" in progress.first.inner_text()  # else retake: it just finished
            if "completed" in t or "failed" in t:
                break
        no_exception(pg)
        time.sleep(0.5)
    assert seen and "completed" in seen[-1], seen
    jid = EmbeddedBackend(checkpoints).jobs()[0].job_id
    betas = [e["value"] for e in EmbeddedBackend(checkpoints).metrics(jid)["events"] if e.get("kind") == "beta"]
    assert betas == [2.0], f"the β slider steered the running job: {betas}"
    assert len(seen) >= 3, f"the progress should change while running: {seen}"
    assert first_chart is not None, f"the loss chart should appear while the job runs: {seen}"
    settle(pg)
    chart = pg.locator("[data-testid=stVegaLiteChart]").first
    chart.locator("canvas, svg").first.wait_for(timeout=30_000)
    time.sleep(1.0)
    assert chart.screenshot() != first_chart, "the live chart grew while training"
    pg.wait_for_function("() => document.querySelectorAll('[data-testid=stImage] img').length >= 2",
                         timeout=30_000)  # the latest reconstructions and samples
    no_exception(pg)
    assert pg.locator(".katex").count() >= 2 and pg.locator(".katex-error").count() == 0, "ELBO and loss render"
    shoot(pg, "2_live_done")

    # The viewing pages draw the finished run.
    for url, name, min_images in (("Reconstructions", "3_reconstructions", 2), ("Samples", "4_samples", 3),
                                  ("Latent_space", "5_latent_space", 1), ("Runs", "6_runs", 0)):
        pg.goto(f"{server}/{url}")
        settle(pg)
        if min_images:
            pg.wait_for_function(
                f"() => document.querySelectorAll('[data-testid=stImage] img').length >= {min_images}",
                timeout=60_000)
        if url in ("Latent_space", "Runs"):
            pg.locator("[data-testid=stVegaLiteChart] canvas, [data-testid=stVegaLiteChart] svg").first.wait_for(
                timeout=30_000)
        no_exception(pg)
        imgs = pg.locator("[data-testid=stImage] img:visible")  # not those in a closed tab
        for i in range(imgs.count()):  # real pixels: every picture decodes (scrolled in: images load lazily)
            img = imgs.nth(i)
            img.scroll_into_view_if_needed()
            pg.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img.element_handle(),
                                 timeout=30_000)
        shoot(pg, name)
    assert "seed-vae · MLP VAE · z=20 · mnist" in pg.locator("[data-testid=stSelectbox]").first.aria_snapshot()


@pytest.fixture
def quick_lessons(monkeypatch):
    """The Lessons page at the test size (2,000 digits, a few epochs): what a unit test can train in seconds."""
    monkeypatch.setenv("AE_LAB_LESSON_SIZE", "test")


def test_every_lesson_and_the_other_pages_open_and_a_lesson_trains(quick_lessons, server, chromium_page):
    """Each lesson opens without an exception; lesson 5 (at the test size) trains in the background from its
    button and then shows its evidence; Applications, Compare, Ising, Your data and Graph AE render."""
    server, _ = server
    pg = chromium_page
    pg.goto(server)  # a fresh server's first run is Streamlit's own: a deep link then shows "Page not found"
    pg.get_by_test_id("stSidebarNav").wait_for(timeout=120_000)
    pg.goto(f"{server}/Lessons")
    settle(pg)
    no_exception(pg)
    radios = pg.locator("[data-testid=stSidebar] [role=radiogroup]").nth(1).locator("label")  # 0: Lessons | Tour
    n = radios.count()
    assert n == 8, f"eight lessons in the sidebar, found {n}"
    for i in range(n):
        radios.nth(i).click()
        time.sleep(0.5)
        settle(pg)
        no_exception(pg)
        text = pg.inner_text("[data-testid=stMain]")
        assert "Why" in text or "▶ Train" in text, text[:500]
        if i == 7:  # the curse of dimensionality needs no training: its charts are there at once
            pg.locator("[data-testid=stVegaLiteChart] canvas, [data-testid=stVegaLiteChart] svg").first.wait_for(
                timeout=30_000)
        shoot(pg, f"7_lesson_{i + 1}")

    radios.nth(4).click()  # 5 · samples improve with training
    settle(pg)
    pg.get_by_role("button", name="▶ Train").click()
    pg.wait_for_function("() => document.querySelectorAll('[data-testid=stImage] img').length >= 2",
                         timeout=RUN_S * 1000)
    settle(pg)
    no_exception(pg)
    shoot(pg, "7_lesson_5_trained")

    for url, name in (("Applications", "8_applications"), ("Compare", "9_compare"), ("Ising", "10_ising"),
                      ("Your_data", "11_your_data"), ("Graph_AE", "12_graph_ae")):
        pg.goto(f"{server}/{url}")
        settle(pg)
        no_exception(pg)
        shoot(pg, name)


def test_the_loading_spinner_goes_when_the_first_page_stops_early(server, chromium_page):
    """The first page after start loads PyTorch under "Loading <page>…". Your data with no uploads ends with
    st.stop(); with the spinner around the whole page run, Streamlit sent nothing after the stop, not even the
    spinner's removal, and "Loading Your data…" stayed on the finished page."""
    server, _ = server
    pg = chromium_page
    pg.goto(f"{server}/Your_data")
    settle(pg)
    no_exception(pg)
    time.sleep(1.0)
    assert pg.locator("[data-testid=stSpinner]").count() == 0, pg.inner_text("[data-testid=stMain]")[:300]


def test_latent_map_click_canvas_and_theory_formulas(server, chromium_page):
    """Hover the latent map (in the browser): the decoded image changes; a click pins the point on the server.
    Draw a digit: its code moves on the map and its percentile appears. The formulas render (KaTeX, no error)
    on Latent space, VAE theory, Train and Live run."""
    from engine.core.presets import preset
    from engine.core.store import Store
    from engine.core.trainer import train

    server, checkpoints = server
    store = Store(checkpoints)
    quick = dict(dataset="mnist", latent_dim=2, train_limit=2000, epochs=3)
    train(preset("seed-mlp-ae", **quick, lr=3e-3), store=store)
    train(preset("seed-vae", **quick), store=store)  # the newest: the pages open it by default
    pg = chromium_page

    pg.goto(f"{server}/Latent_space")
    settle(pg)
    no_exception(pg)
    if pg.get_by_text("Page not found").count():  # a cold server's first deep link (see test_e2e_nav): its
        pg.keyboard.press("Escape")                # dialog's backdrop would take the mouse; close it as one would
    plane = pg.locator("canvas[data-role=map]")
    plane.wait_for(timeout=60_000)
    plane.scroll_into_view_if_needed()
    box = plane.bounding_box()
    decoded = pg.locator("canvas[data-role=decoded]")
    before = decoded.evaluate("c => c.toDataURL()")
    pg.mouse.move(box["x"] + 0.78 * box["width"], box["y"] + 0.22 * box["height"])  # up right, off the centre
    time.sleep(0.3)
    assert decoded.evaluate("c => c.toDataURL()") != before, "hovering the map decodes a new point"
    pg.mouse.click(box["x"] + 0.78 * box["width"], box["y"] + 0.22 * box["height"])
    pg.get_by_text("Pinned at").wait_for(timeout=60_000)
    pg.wait_for_function("() => ![...document.querySelectorAll('[data-testid=stCaption]')].some("
                         "e => e.innerText.includes('Pinned at (0.00, 0.00)'))", timeout=60_000)
    assert pg.locator(".katex").count() >= 3 and pg.locator(".katex-error").count() == 0

    # Draw a digit: every stroke moves its code on the map and scores it, in the browser.
    board = pg.locator("canvas[data-role=board]")
    board.scroll_into_view_if_needed()
    cb = board.bounding_box()
    pg.mouse.move(cb["x"] + 0.5 * cb["width"], cb["y"] + 0.2 * cb["height"])
    pg.mouse.down()
    for t in range(1, 21):  # a '7': across, then down to the left
        frac = t / 20
        x = 0.3 + 0.4 * min(frac * 2, 1) - 0.2 * max(frac * 2 - 1, 0)
        y = 0.2 + 0.6 * max(frac * 2 - 1, 0)
        pg.mouse.move(cb["x"] + x * cb["width"], cb["y"] + y * cb["height"])
    pg.mouse.up()
    pg.get_by_text("Anomaly score (squared pixel error)").wait_for(timeout=60_000)
    assert pg.locator("canvas[data-role=drawn-map]").get_attribute("data-mu"), "the drawing's code is on the map"
    settle(pg)
    no_exception(pg)
    shoot(pg, "13_latent_space_interactive")

    pg.goto(f"{server}/VAE_theory")
    settle(pg)
    pg.get_by_text("7 · History").wait_for(timeout=BOOT_S * 1000)  # the last section: the page has run through
    settle(pg)
    pg.locator("[data-testid=stVegaLiteChart] canvas, [data-testid=stVegaLiteChart] svg").first.wait_for(
        timeout=60_000)
    no_exception(pg)
    assert pg.locator(".katex").count() >= 10 and pg.locator(".katex-error").count() == 0
    text = pg.inner_text("[data-testid=stMain]")
    assert "none" in pg.locator("[data-testid=stTable]").first.inner_text() and "std(z)" in text
    shoot(pg, "14_vae_theory")

    pg.goto(f"{server}/Train")
    settle(pg)
    pg.get_by_text("The model in code").click()
    pg.get_by_text("Where they differ").wait_for(timeout=30_000)
    no_exception(pg)
    shoot(pg, "15_train_code")
