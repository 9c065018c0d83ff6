"""Pages over runs trained in the test's own store (no background jobs): Reconstructions' epoch slider, VAE
theory, Latent space with 1-D, PCA and CNN codes, its interpolation's pairing, and a missing checkpoint."""

from __future__ import annotations

import pytest
from apptest import app, no_exceptions, stop_backend


@pytest.fixture(autouse=True)
def _shutdown_backend():
    yield
    stop_backend()


def trained(store, name: str = "seed-vae", **overrides) -> str:
    from engine.core.presets import preset
    from engine.core.trainer import train

    return train(preset(name, **{"dataset": "synthetic", "epochs": 1, **overrides}), store=store).run_id


def test_reconstructions_epoch_slider_is_each_runs_own(store):
    """Sliding back to epoch 1 of one run does not carry over to the next run picked: it opens on its latest."""
    first, second = trained(store, epochs=2, seed=1), trained(store, epochs=3, seed=2)
    at = app("pages/inspect/reconstructions.py")
    at.session_state["selected_run"] = first
    at.run()
    (slider,) = at.select_slider
    assert slider.options == ["1", "2"] and slider.value == 2
    slider.set_value(1).run()
    at.selectbox(key="rec_run").set_value(second).run()
    no_exceptions(at)
    (slider,) = at.select_slider
    assert slider.options == ["1", "2", "3"] and slider.value == 3
    at.selectbox(key="rec_run").set_value(first).run()
    assert at.select_slider[0].value == 2, "back on the first run: its latest (a widget not drawn is forgotten)"


def test_vae_theory_page_measures_a_trained_vae(store):
    rid = trained(store, latent_dim=3)
    at = app("pages/learn/vae_theory.py")
    at.session_state["selected_run"] = rid
    at.run()
    no_exceptions(at)
    assert not at.error, [e.value for e in at.error]
    tex = " ".join(x.value for x in at.latex)
    for piece in (r"p(X) = \sum_{Z}", r"q_\phi(Z|X)", r"\mathcal{U}[-a, a]", r"\text{measured: }",
                  r"\mathrm{Var}[z]", r"\varepsilon", r"\nabla_\mu", r"N^{1/d}"):
        assert piece in tex, piece
    assert len(at.latex) >= 10
    table = at.table[0].value
    assert (table.loc["Normal(μ, σ).sample()", "∂L/∂μ"] == "none"
            and table.loc["μ + σ·ε (trick)", "∂L/∂μ"] != "none"), table
    assert any("layer-wise" in h.value for h in at.header)


@pytest.mark.parametrize("settings", [dict(name="seed-vae", latent_dim=1), dict(name="seed-mlp-ae", latent_dim=5),
                                      dict(name="seed-cnn-ae", latent_dim=2)])
def test_latent_space_handles_1d_pca_and_cnn_runs(store, settings):
    rid = trained(store, **settings)
    at = app("pages/inspect/latent_space.py")
    at.session_state["selected_run"] = rid
    at.run()
    no_exceptions(at)
    assert not at.error, [e.value for e in at.error]
    assert any("Draw with the mouse" in c.value for c in at.caption), "the drawing pad says what it does"
    assert any("In your browser" in c.value for c in at.caption), "every architecture runs in the browser"


def test_latent_space_pairs_the_opened_run_with_one_on_its_dataset(store):
    """Interpolation compares an AE and a VAE on the same data: with a VAE opened on one dataset and the newest AE
    on another, the AE side starts on an AE of the VAE's dataset (it said "Pick two runs trained on the same
    dataset")."""
    ae_same = trained(store, "seed-mlp-ae", latent_dim=2, seed=1)
    vae = trained(store, "seed-vae", latent_dim=2, seed=2)
    trained(store, "seed-mlp-ae", latent_dim=2, seed=3, dataset="synthetic-without-1")  # the newest AE
    at = app("pages/inspect/latent_space.py")
    at.session_state["selected_run"] = vae
    at.run()
    no_exceptions(at)
    assert at.selectbox(key="lat_ip_ae").value == ae_same and at.selectbox(key="lat_ip_vae").value == vae
    assert not any("same dataset" in w.value for w in at.warning)


def test_latent_space_and_theory_survive_a_missing_checkpoint(store):
    rid = trained(store, latent_dim=2)
    store.state_path(rid).unlink()
    for path in ("pages/inspect/latent_space.py", "pages/learn/vae_theory.py"):
        at = app(path)
        at.session_state["selected_run"] = rid
        at.run()
        no_exceptions(at)
        assert any("no checkpoint" in e.value for e in at.error), path
