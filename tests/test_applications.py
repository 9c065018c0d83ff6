"""Applications: PCA compression, ROC/AUC, anomaly detection on a held-out digit, denoising, image uploads,
generation — and the Applications page rendered with Streamlit's AppTest."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch

from engine.core.config import make_config
from engine.core.store import Store
from engine.core.trainer import train
from engine.data import LOADERS, load
from engine.data.subsets import resolve
from engine.teaching.applications import (
    ImageError,
    anomaly_report,
    anomaly_specs,
    compression_specs,
    denoise,
    elbo_scores,
    image_from_bytes,
    interpolate,
    pca_errors,
    recon_scores,
    sample,
)
from engine.teaching.lessons import SIZES, Runs, differing_fields
from engine.teaching.metrics import roc

ROOT = Path(__file__).resolve().parent.parent
DIGIT = 2


@pytest.fixture(scope="module")
def mstore(tmp_path_factory) -> Store:
    return Store(tmp_path_factory.mktemp("apps") / "checkpoints")


@pytest.fixture(scope="module")
def anomaly_runs(mstore) -> Runs:
    specs = anomaly_specs("test", DIGIT)
    for cfg in specs.values():
        assert train(cfg, store=mstore).status == "completed"
    return Runs(specs, mstore)


def test_pca_error_decreases_with_k():
    d = load("mnist")
    errs = pca_errors(d.train_x[:3000], d.test_x, (1, 2, 4, 8, 16, 32, 64))
    assert all(b < a for a, b in zip(errs, errs[1:], strict=False)), errs
    assert pca_errors(d.train_x[:3000], d.train_x[:3000], (784,))[0] < 1e-6  # a full basis reconstructs exactly
    # PCA is optimal among linear codes: the best rank-k error is below the zero-code baseline (the mean image).
    base = (d.test_x.flatten(1) - d.train_x[:3000].flatten(1).mean(0)).pow(2).sum(1).mean()
    assert errs[0] < float(base)


def test_roc_auc_known_values():
    lab = torch.tensor([0, 0, 1, 1], dtype=torch.bool)
    assert roc(torch.tensor([0.1, 0.2, 0.8, 0.9]), lab)["auc"] == pytest.approx(1.0)
    assert roc(torch.tensor([0.9, 0.8, 0.2, 0.1]), lab)["auc"] == pytest.approx(0.0)
    assert roc(torch.ones(4), lab)["auc"] == pytest.approx(0.5)  # ties count half
    g = torch.Generator().manual_seed(0)
    s, p = torch.randn(300, generator=g), torch.rand(300, generator=g) < 0.3
    mw = (s[p][:, None] > s[~p][None, :]).double().mean()  # Mann–Whitney U / (n_pos n_neg)
    r = roc(s, p)
    assert r["auc"] == pytest.approx(float(mw), abs=1e-9)
    assert r["fpr"][0] == r["tpr"][0] == 0 and r["fpr"][-1] == r["tpr"][-1] == 1
    with pytest.raises(ValueError, match="both"):
        roc(s, torch.zeros(300, dtype=torch.bool))


def test_dataset_without_a_digit():
    name = f"mnist-without-{DIGIT}"
    assert name in LOADERS
    d = load(name)
    full = load("mnist")
    assert not (d.train_y == DIGIT).any() and (d.test_y == DIGIT).any()
    assert len(d.train_x) == int((full.train_y != DIGIT).sum())
    assert torch.equal(d.test_x, full.test_x)
    assert resolve("mnist") is None and resolve("mnist-without-x") is None
    make_config(dataset=name)  # a valid dataset for a RunConfig
    with pytest.raises(ValueError, match="does not exist"):
        load("mnist-without-12")


def test_compared_models_differ_in_one_setting():
    """AE vs VAE scores come from the same network with and without its variational part; the compression sweep
    changes the code size only."""
    for size in SIZES:
        a = anomaly_specs(size, DIGIT)
        assert differing_fields([a["ae"], a["vae"]]) == ["variational"]
        assert differing_fields(list(compression_specs(size).values())) == ["latent_dim"]


def test_anomaly_auc_clearly_above_chance(anomaly_runs):
    x, y = anomaly_runs.heldout("ae")
    cfg, ae = anomaly_runs.model("ae")
    r = anomaly_report(recon_scores(ae, cfg, x), y, DIGIT, x)
    assert r["auc"] > 0.7, r["auc"]
    assert r["top"].shape == (16, 1, 28, 28) and r["top"].dtype == torch.uint8
    vcfg, vae = anomaly_runs.model("vae")
    elbo = elbo_scores(vae, vcfg, x)
    assert elbo.shape == (len(x),) and torch.isfinite(elbo).all()
    assert roc(elbo, y == DIGIT)["auc"] > 0.7
    with pytest.raises(ValueError, match="VAE"):
        elbo_scores(ae, cfg, x[:4])


def test_generation_shapes(anomaly_runs):
    cfg, vae = anomaly_runs.model("vae")
    s = sample(vae, cfg, 12, seed=3)
    assert s.shape == (12, 1, 28, 28) and 0 <= float(s.min()) and float(s.max()) <= 1
    assert torch.equal(s, sample(vae, cfg, 12, seed=3))
    x, _ = anomaly_runs.heldout("vae")
    walk = interpolate(vae, cfg, x[0], x[1], steps=7)
    assert walk["latent"].shape == walk["pixels"].shape == (7, 1, 28, 28)
    assert torch.allclose(walk["pixels"][0], x[0]) and torch.allclose(walk["pixels"][-1], x[1])


def test_denoise_removes_noise(anomaly_runs):
    """Any AE trained on clean digits projects a noisy digit back toward the digits it knows."""
    cfg, model = anomaly_runs.model("ae")
    x = load("mnist").test_x[:300]
    r = denoise(model, cfg, x, level=0.5, seed=1)
    assert sum(r["err_clean"]) < 0.8 * sum(r["err_noisy"])
    assert r["noisy"].shape == r["clean"].shape == x.shape
    assert denoise(model, cfg, x[:5], level=0.3, seed=1)["err_noisy"] == denoise(model, cfg, x[:5], 0.3, 1)["err_noisy"]


def _png(img, fmt="PNG") -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def test_image_upload_validation():
    from PIL import Image, ImageDraw

    # Dark ink on white paper, not square, RGB: converted to MNIST's white-on-black 28×28.
    img = Image.new("RGB", (200, 120), "white")
    ImageDraw.Draw(img).line([(100, 10), (100, 110)], fill="black", width=14)
    x = image_from_bytes(_png(img), "one.png")
    assert x.shape == (1, 1, 28, 28) and float(x[..., 0, 0]) < 0.1 and float(x[..., 14, 14]) > 0.5
    assert image_from_bytes(_png(img.convert("L"), "JPEG"), "one.jpg").shape == (1, 1, 28, 28)
    with pytest.raises(ImageError, match="could not be read"):
        image_from_bytes(b"definitely not an image", "x.png")
    with pytest.raises(ImageError, match="empty"):
        image_from_bytes(b"", "x.png")
    with pytest.raises(ImageError, match="MB"):
        image_from_bytes(b"\0" * (6 * 2**20), "big.png")
    with pytest.raises(ImageError, match="PNG or JPG"):
        image_from_bytes(_png(img, "GIF"), "anim.gif")


def test_applications_page_renders_without_runs():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "pages" / "beyond" / "applications.py"), default_timeout=120).run()
    assert not at.exception, at.exception
    assert len(at.tabs) == 4
    assert any(b.label.startswith("▶ Train") for b in at.button)


def test_applications_page_with_trained_runs(anomaly_runs, mstore, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("AE_LAB_CHECKPOINTS", str(mstore.root))
    at = AppTest.from_file(str(ROOT / "pages" / "beyond" / "applications.py"), default_timeout=120).run()
    at.sidebar.toggle[0].set_value(True).run()
    assert not at.exception, at.exception
    aucs = [m for m in at.metric if m.label.startswith("AUC")]
    assert len(aucs) == 3 and float(aucs[0].value) > 0.7
    assert at.get("image")  # the most anomalous digits
    import engine.teaching.applications
    import ui.runs

    calls = []
    for module in (ui.runs, engine.teaching.applications):  # wherever a rerun would take it from
        monkeypatch.setattr(module, "recon_scores", lambda *a: calls.append(a))
    at.selectbox(key="an_score").set_value("VAE −ELBO").run()  # a rerun of every tab
    assert not at.exception, at.exception
    assert not calls, "the 10,000 digits are scored once per pair of checkpoints, not on every rerun"
    assert [m.value for m in at.metric if m.label.startswith("AUC")] == [m.value for m in aucs]
