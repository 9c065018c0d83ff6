"""The dashboard, driven headless with Streamlit's AppTest: every page renders without an exception, the
Train page launches a tiny real run on the background backend, bad settings are explained, and the
viewing pages draw that run. (The chart and latent helpers the pages share: tests/test_charts.py.)"""

from __future__ import annotations

import pytest
import torch
from apptest import TIMEOUT, app, elements, no_exceptions, stop_backend
from streamlit.testing.v1 import AppTest

PAGES = {"pages/train/train.py": "Train", "pages/train/live_run.py": "Live_run",  # page file: its URL path
         "pages/inspect/reconstructions.py": "Reconstructions", "pages/inspect/samples.py": "Samples",
         "pages/inspect/latent_space.py": "Latent_space", "pages/train/runs.py": "Runs",
         "pages/learn/vae_theory.py": "VAE_theory"}


@pytest.fixture(autouse=True)
def _shutdown_backend():
    """Stop this test's worker processes (the autouse conftest fixture gave it its own checkpoint folder)."""
    yield
    stop_backend()


def tiny_train_page(**settings) -> AppTest:
    """The Train page with a seconds-long run configured: synthetic data, 1 epoch, 2-D latent VAE."""
    at = app("pages/train/train.py").run()
    no_exceptions(at)
    at.selectbox(key="tr_dataset").set_value("synthetic")
    values = {"tr_epochs": 1, "tr_latent_dim": 2, "tr_train_limit": 0, "tr_batch_size": 64, **settings}
    for key, v in values.items():
        at.number_input(key=key).set_value(v)
    return at.run()


def launch_tiny_run(**settings) -> tuple[AppTest, str]:
    from ui.state import JOB_KEY

    at = tiny_train_page(**settings)
    no_exceptions(at)
    assert not at.error, [e.value for e in at.error]
    launch = at.button(key="launch")
    assert not launch.disabled
    at = launch.click().run()
    no_exceptions(at)
    return at, at.session_state[JOB_KEY]


# ---- rendering ------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["app.py", *PAGES])
def test_every_page_renders_with_no_runs(path):
    at = app(path).run()
    no_exceptions(at)
    assert at.title, "every page has a title"


def test_home_says_what_ae_and_vae_are_and_links_every_page():
    at = app("app.py").run()
    no_exceptions(at)
    text = " ".join(m.value for m in at.markdown)
    assert "autoencoder (AE)" in text and "variational autoencoder (VAE)" in text
    assert "CC BY-SA 3.0" in " ".join(c.value for c in at.caption)
    links = {p.proto.page for p in elements(at, "page_link")}  # url paths, e.g. "Live_run"
    assert set(PAGES.values()) <= links, links
    gpu = torch.cuda.is_available()
    assert ("GPU found" in " ".join(s.value for s in at.success)) == gpu
    assert ("No GPU found" in " ".join(i.value for i in at.info)) == (not gpu)


# ---- bad input --------------------------------------------------------------------------------------
@pytest.mark.parametrize("settings, message", [
    ({"tr_beta": -1.0}, "beta must be ≥ 0"),
    ({"tr_contractive_weight": 0.5}, "contractive weight needs an autoencoder with a deterministic encoder"),
    ({"tr_lr": 0.0}, "learning rate must be > 0"),
    ({"tr_latent_dim": 0}, "latent_dim"),
])
def test_invalid_settings_are_explained_and_launch_is_disabled(settings, message):
    at = tiny_train_page(**settings)
    no_exceptions(at)
    errors = " ".join(e.value for e in at.error)
    assert "Can't launch yet" in errors and message in errors, errors
    assert at.button(key="launch").disabled


def test_bad_hidden_sizes_text_is_explained():
    at = tiny_train_page()
    at.text_input(key="tr_hidden").set_value("400, lots").run()
    no_exceptions(at)
    assert "hidden layer sizes must be whole numbers" in " ".join(e.value for e in at.error)
    assert at.button(key="launch").disabled
    at.text_input(key="tr_hidden").set_value("64").run()
    assert not at.error and not at.button(key="launch").disabled


def test_preset_choice_fills_the_form():
    at = app("pages/train/train.py").run()
    at.selectbox(key="tr_preset").set_value("seed-mlp-ae").run()
    no_exceptions(at)
    assert at.radio(key="tr_variational").value is False
    assert at.text_input(key="tr_hidden").value == "128, 64, 12"
    assert at.number_input(key="tr_latent_dim").value == 3
    assert at.selectbox(key="tr_output").value == "tanh"
    at.button[0].click().run()  # quick demo settings
    assert at.number_input(key="tr_epochs").value == 2
    assert at.number_input(key="tr_train_limit").value == 2000
    assert any("Only 32 optimizer steps" in i.value and "grey blobs" in i.value for i in at.info), \
        "the lecture's AE learns slowly: a quick demo says what to expect"
    at.selectbox(key="tr_preset").set_value("seed-vae").run()
    at.button[0].click().run()
    assert not any("grey blobs" in i.value for i in at.info), "not for the VAE (its summed BCE learns fast enough)"


# ---- a real run through the background backend ---------------------------------------------------------
def test_train_page_launches_a_run_and_every_page_shows_it():
    from engine.jobs import COMPLETED
    from ui.backend import backend
    from ui.state import JOB_KEY, RUN_KEY

    at, jid = launch_tiny_run()
    be = backend()
    assert [j.job_id for j in be.jobs()] == [jid], "the launched job reaches the backend, once"
    assert [t.value for t in at.title] == ["Live run"], "Launch opens Live run"
    info = be.wait(jid, timeout=TIMEOUT)
    assert info.status == COMPLETED, info
    assert info.epoch == 1 and info.config["dataset"] == "synthetic" and info.config["latent_dim"] == 2
    state = {JOB_KEY: jid, RUN_KEY: jid}

    # Live run: the finished job with its chart, metrics and snapshot pictures (no auto-refresh any more).
    live = app("pages/train/live_run.py")
    live.session_state[JOB_KEY] = jid
    live.run()
    no_exceptions(live)
    assert "completed" in elements(live, "progress")[0].proto.text
    assert elements(live, "vega_lite_chart"), "the loss chart is drawn"
    assert len(elements(live, "image")) >= 2, "reconstructions and samples of the last epoch"
    assert any("KL" in m.value for m in live.markdown), "the text beside the chart talks about KL"
    assert any(m.value == "**What happened**" for m in live.markdown), "a finished job: not 'happening now'"
    tex = " ".join(x.value for x in live.latex)
    assert r"\mathrm{ELBO}" in tex and r"\beta\," in tex, "the ELBO and recon + β·KL beside the chart"
    assert r"\times" in tex and "= " in tex, "filled in with this run's numbers"

    for path, min_images in (("pages/inspect/reconstructions.py", 1), ("pages/inspect/samples.py", 2),
                             ("pages/inspect/latent_space.py", 1), ("pages/train/runs.py", 0)):
        page = app(path)
        for k, v in state.items():
            page.session_state[k] = v
        page.run()
        no_exceptions(page)
        assert len(elements(page, "image")) >= min_images, path
        assert not page.error, (path, [e.value for e in page.error])
        if path == "pages/inspect/reconstructions.py":
            assert any(r"\mathrm{err}(x)" in x.value for x in page.latex), "the error formula beside its bars"
    latent = app("pages/inspect/latent_space.py")
    latent.session_state[RUN_KEY] = jid
    latent.run()
    assert any("2-D latent, drawn directly" in m.value for m in latent.markdown)
    assert len(elements(latent, "bidi_component")) >= 3, "the weights, the latent map and the drawing pad"
    tex = " ".join(x.value for x in latent.latex)
    assert r"-\tfrac{1}{2}\sum_{j=1}^{K}" in tex and "KL_j" in tex, "the closed-form KL beside the KL bars"
    assert any("typical spacing" in m.value for m in latent.caption), "the pinned point's nearest digit"
    assert any("In your browser" in m.value for m in latent.caption), "says what runs in the browser"

    # Launching the same settings again is a cache hit.
    again = tiny_train_page()
    assert any("trained before" in s.value for s in again.success)
    again = again.button(key="launch").click().run()
    no_exceptions(again)
    assert any("already trained — loading from cache" in s.value for s in again.success)


def test_a_refused_launch_stays_on_train_and_says_why_once(monkeypatch):
    """Launch submits before drawing the page; a refusal falls through to the page, which shows it one time."""
    from engine.jobs import JobError
    from engine.jobs.embedded import EmbeddedBackend

    def refuse(self, cfg):
        raise JobError("the queue is full: wait for a job to finish")

    monkeypatch.setattr(EmbeddedBackend, "submit", refuse)
    at = tiny_train_page()
    at = at.button(key="launch").click().run()
    no_exceptions(at)
    assert [t.value for t in at.title] == ["Train a model"]
    assert [e.value for e in at.error] == ["Could not start the run: the queue is full: wait for a job to finish"]


def test_live_run_waiting_for_the_first_point_draws_only_what_it_fills_in(monkeypatch):
    """While a started job has no point yet the page polls 10× a second: then it draws the status and the metrics
    (which the first point fills in), not the charts, formulas and pictures it redraws on every poll after."""
    import ui.access.auth
    from engine.core.presets import preset
    from engine.jobs import RUNNING, JobInfo

    cfg = preset("seed-vae", dataset="synthetic", epochs=2)
    info = JobInfo(cfg.run_id(), RUNNING, cfg.model_dump(mode="json"), epochs=2, steps_total=10, started=1.0)
    hist = {"steps": [], "epochs": [], "events": []}

    class Backend:  # the one job, as the page reads it
        def jobs(self):
            return [info]

        def status(self, job_id):
            return info

        def metrics(self, job_id, since_step=0):
            return hist

    monkeypatch.setattr(ui.access.auth, "try_user_backend", lambda: Backend())
    at = app("pages/train/live_run.py").run()
    no_exceptions(at)
    assert any("first training step is on its way" in c.value for c in at.caption)
    assert not at.latex and not at.get("vega_lite_chart"), "nothing redrawn 10× a second that waits for points"
    point = {"epoch": 1, "step": 1, "progress": 0.1, "recon": 150.0, "kl": 5.0, "loss": 155.0, "beta": 1.0,
             "lr": 1e-3, "images_per_s": 900.0}
    info.step, info.latest, hist["steps"] = 1, point, [point]
    at.run()
    no_exceptions(at)
    assert [m.value for m in at.metric if m.label == "reconstruction / image"] == ["150"]
    assert at.latex and at.get("vega_lite_chart"), "with a point: the formulas and the loss chart"


def test_live_run_steers_cancels_and_resumes_a_running_job():
    import time

    from engine.core.presets import preset
    from engine.jobs import CANCELLED, FINISHED
    from ui.backend import backend
    from ui.state import JOB_KEY

    be = backend()
    jid = be.submit(preset("seed-vae", dataset="synthetic", epochs=300, latent_dim=2, batch_size=32))
    at = app("pages/train/live_run.py")
    at.session_state[JOB_KEY] = jid
    at.run()
    no_exceptions(at)
    assert not at.button(key="cancel").disabled and at.button(key="resume").disabled

    at.slider[0].set_value(2.0)  # β
    next(b for b in at.button if b.label == "Apply to the running job").click().run()
    no_exceptions(at)
    assert not at.error, [e.value for e in at.error]
    t0 = time.monotonic()
    while time.monotonic() - t0 < TIMEOUT:  # the worker picks the new β up at its next step
        events = be.metrics(jid)["events"]
        if any(e.get("kind") == "beta" for e in events) or be.status(jid).done:
            break
        time.sleep(0.3)
    assert [e["value"] for e in be.metrics(jid)["events"] if e.get("kind") == "beta"] == [2.0]

    at.button(key="cancel").click().run()
    no_exceptions(at)
    assert be.status(jid).status == CANCELLED
    assert not at.button(key="resume").disabled
    at.button(key="resume").click().run()
    no_exceptions(at)
    assert be.status(jid).status not in FINISHED, "resumed"
    be.cancel(jid)


def test_runs_page_deletes_a_run_after_confirmation(store):
    from engine.core.presets import preset
    from engine.core.trainer import train

    cfg = preset("seed-mlp-ae", dataset="synthetic", epochs=1, latent_dim=2)
    rid = train(cfg, store=store).run_id
    at = app("pages/train/runs.py").run()
    no_exceptions(at)
    assert at.selectbox(key="runs_pick").value == rid
    assert any("(100 held-out images, never trained on)" in m.value for m in at.markdown), "the dataset's own count"
    assert at.button(key="runs_delete").disabled, "delete needs the confirmation box"
    at.checkbox(key="runs_sure").check().run()
    at.button(key="runs_delete").click().run()
    no_exceptions(at)
    assert store.meta(rid) is None and not store.run_dir(rid).exists()


def test_samples_page_draws_fresh_samples_and_rejects_a_negative_seed(store):
    from engine.core.presets import preset
    from engine.core.trainer import train

    rid = train(preset("seed-vae", dataset="synthetic", epochs=1, latent_dim=4), store=store).run_id
    at = app("pages/inspect/samples.py")
    at.session_state["selected_run"] = rid
    at.run()
    no_exceptions(at)
    before = len(elements(at, "image"))
    assert before >= 3  # the epoch strip, the 64 fixed-z samples, fresh samples
    assert any(r"z\sim \mathcal{N}(0, I),\qquad x = D_\theta(z)" in x.value for x in at.latex)
    at.number_input(key="smp_seed").set_value(-3).run()
    no_exceptions(at)
    assert "seed must be 0 or a positive" in " ".join(e.value for e in at.error)


def test_train_page_shows_the_lecture_listing_beside_print_model():
    at = app("pages/train/train.py").run()
    no_exceptions(at)
    assert not at.code, "the listings are drawn only once their expander is opened"
    at.session_state["tr_code_open"] = True  # as a click on the expander (on_change="rerun")
    at.run()
    code = " ".join(c.value for c in at.code)
    assert "self.fc21 = nn.Linear(400, 20)" in code, "the lecture's VAE listing (seed-vae is the default)"
    assert "(fc_mu): Linear(in_features=400, out_features=20" in code, "the engine's print(model)"
    assert any("Where they differ" in m.value and "whole batch" in m.value for m in at.markdown)
    at.selectbox(key="tr_preset").set_value("seed-cnn-ae").run()
    assert "# b, 8, 2, 2" in " ".join(c.value for c in at.code)


def test_train_page_draws_the_networks_hourglass_with_its_code_size():
    """The shape chart and metrics follow the preset: the lecture's MLP AE narrows 784 → 3, its CNN to 8×2×2,
    the over-complete sparse AE widens to 1024 (input ÷ code below 1)."""
    from altair.vegalite.v6.schema.core import TopLevelSpec

    from engine.core.presets import preset
    from engine.teaching.shapes import code_size, layer_widths
    from ui.draw.charts import shape_chart

    mlp = layer_widths(preset("seed-mlp-ae"))
    assert [r["numbers"] for r in mlp] == [784, 128, 64, 12, 3, 12, 64, 128, 784]
    assert [r["part"] for r in mlp][3:6] == ["encoder", "code", "decoder"] and mlp[-1]["part"] == "output"
    assert code_size(mlp) == (3, 784 / 3)
    cnn = layer_widths(preset("seed-cnn-ae"))
    assert next(r for r in cnn if r["part"] == "code")["layer"] == "code: MaxPool2d 8×2×2"
    vae = layer_widths(preset("seed-vae"))
    assert [r["numbers"] for r in vae] == [784, 400, 20, 400, 784], "μ is the code; the σ layer beside it is not a row"
    spec = shape_chart(mlp)
    TopLevelSpec.validate(spec)
    steps = [r["step"] for r in spec["data"]["values"]]
    assert len(set(steps)) == len(mlp), "one bar per layer: encoder and decoder layers of the same name stay apart"
    assert spec["encoding"]["y"]["scale"]["type"] == "log" and spec["encoding"]["y2"] == {"datum": 1}, \
        "log-scale bars need a base above 0, or Vega draws none"

    at = app("pages/train/train.py").run()
    no_exceptions(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["numbers in the code"] == "20" and metrics["input ÷ code"] == "39.2×"
    at.selectbox(key="tr_preset").set_value("sparse-ae").run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["numbers in the code"] == "1,024" and metrics["input ÷ code"] == "0.766×"
    assert any("the code (red)" in c.value for c in at.caption)
