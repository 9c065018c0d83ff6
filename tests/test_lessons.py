"""The lecture's claims, asserted numerically on small seeded runs (bundled MNIST, 2,000 digits, few epochs),
and the Lessons / Compare pages rendered with Streamlit's AppTest."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from engine.core.presets import preset
from engine.core.store import Store
from engine.core.trainer import train
from engine.teaching.lessons import (
    LESSONS,
    Runs,
    beta_specs,
    complete_evidence,
    contractive_evidence,
    curse_evidence,
    denoising_evidence,
    distance_contrast,
    monte_carlo_ratio,
    regularizer_specs,
    sparsity_evidence,
    sphere_cube_ratio,
    train_lesson,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def mstore(tmp_path_factory) -> Store:
    """One checkpoint folder for the whole module, so lessons sharing runs train them once."""
    return Store(tmp_path_factory.mktemp("lessons") / "checkpoints")


def trained(specs: dict, store: Store) -> Runs:
    for cfg in specs.values():
        assert train(cfg, store=store).status == "completed"
    return Runs(specs, store)


# ---- 8: curse of dimensionality (pure maths) ----------------------------------------------------------
def test_sphere_cube_ratio_formula():
    assert sphere_cube_ratio(1) == pytest.approx(1.0)
    assert sphere_cube_ratio(2) == pytest.approx(math.pi / 4)
    assert sphere_cube_ratio(3) == pytest.approx(math.pi / 6)
    vals = [sphere_cube_ratio(d) for d in range(1, 60)]
    assert all(b < a for a, b in zip(vals, vals[1:], strict=False))
    assert sphere_cube_ratio(784) < 1e-300 or sphere_cube_ratio(784) == 0.0
    for d in (2, 3, 5):
        assert monte_carlo_ratio(d, n=40000) == pytest.approx(sphere_cube_ratio(d), abs=0.01)


def test_distances_concentrate():
    low, high = distance_contrast(2), distance_contrast(784)
    assert low["ratio"] > 10 > 2 > high["ratio"] > 1
    assert high["rel_spread"] < low["rel_spread"] / 5
    ev = curse_evidence()
    assert len(ev["volume"]) == 30 and ev["distance"][-1]["d"] == 784


# ---- 1: MLP vs CNN -------------------------------------------------------------------------------------
def test_cnn_reconstructs_better_than_mlp(mstore):
    runs = train_lesson("mlp-cnn", "test", mstore)
    ev = LESSONS["mlp-cnn"].evidence(runs)
    assert ev["cnn"]["mse01"] < 0.95 * ev["mlp"]["mse01"], (ev["cnn"]["mse01"], ev["mlp"]["mse01"])
    assert ev["winner"] == "cnn"
    assert ev["orig"].shape == ev["mlp"]["recon"].shape == (8, 1, 28, 28) and ev["cnn"]["recon"].dtype == torch.uint8
    # The evidence matches the trainer's own held-out metric.
    held = mstore.meta(runs.run_id("cnn"))["heldout"]["mse01"]
    assert ev["cnn"]["mse01"] == pytest.approx(held, rel=1e-3)


# ---- 2, 3: latent spaces -------------------------------------------------------------------------------
def test_vae_latent_closer_to_standard_normal_than_ae(mstore):
    runs = train_lesson("vae-latent", "test", mstore)
    ev = LESSONS["vae-latent"].evidence(runs)
    assert ev["gap_to_normal"] < ev["ae"]["gap_to_normal"], (ev["gap_to_normal"], ev["ae"]["gap_to_normal"])
    assert ev["z"].shape == (1000, 2) and ev["grid"].shape == (144, 1, 28, 28)
    # The AE leaves more of the plane it spans empty.
    assert ev["ae"]["emptiness"] > ev["emptiness"]
    assert LESSONS["ae-latent"].evidence(runs)["emptiness"] == pytest.approx(ev["ae"]["emptiness"])


# ---- 4: β sweep ----------------------------------------------------------------------------------------
def test_larger_beta_lowers_kl_and_raises_reconstruction_error(mstore):
    runs = trained(beta_specs("test", (0.0, 1.0, 16.0)), mstore)
    ev = LESSONS["beta"].evidence(runs)
    rows = sorted(ev["rows"], key=lambda r: r["beta"])
    kl, recon = [r["kl"] for r in rows], [r["recon"] for r in rows]
    assert kl[0] > kl[1] > kl[2], kl
    assert recon[0] < recon[1] < recon[2], recon
    # Large β switches latent dimensions off; β = 0 has the smallest posterior spread.
    assert rows[2]["active_dims"] < rows[0]["active_dims"]
    assert rows[0]["posterior_std"] < rows[2]["posterior_std"]
    assert len(rows[0]["kl_per_dim"]) == 20
    assert {c["beta"] for c in ev["curves"]} == {0.0, 1.0, 16.0}
    assert ev["samples"][1.0].shape == (16, 1, 28, 28)


# ---- 5: samples over epochs ----------------------------------------------------------------------------
def test_samples_are_snapshotted_every_epoch(mstore):
    runs = train_lesson("epochs", "test", mstore)
    ev = LESSONS["epochs"].evidence(runs)
    assert [e for e, _ in ev["frames"]] == [1, 2, 3]
    assert ev["frames"][0][1].shape == (16, 1, 28, 28)
    assert not torch.equal(ev["frames"][0][1], ev["frames"][-1][1])
    assert ev["curve"][-1]["loss"] < ev["curve"][0]["loss"]


# ---- 6: regularizers -----------------------------------------------------------------------------------
def test_denoising_lowers_error_against_clean_image(mstore):
    specs = regularizer_specs("test")
    runs = trained({k: specs[k] for k in ("denoising", "plain")}, mstore)
    ev = denoising_evidence(runs, level=0.5)
    assert ev["err_denoising"] < 0.8 * ev["err_noisy"], (ev["err_denoising"], ev["err_noisy"])
    clean = denoising_evidence(runs, level=0.0)
    assert clean["err_noisy"] == 0.0


def test_contractive_penalty_reduces_latent_movement(mstore):
    specs = regularizer_specs("test")
    runs = trained({k: specs[k] for k in ("contractive", "uncontracted")}, mstore)
    ev = contractive_evidence(runs, eps=0.05)
    assert ev["contractive"]["relative"] < 0.8 * ev["uncontracted"]["relative"], ev
    assert len(ev["contractive"]["movement"]) == 1000


def test_sparsity_pulls_mean_activation_to_rho(mstore):
    specs = regularizer_specs("test")
    runs = trained({k: specs[k] for k in ("sparse", "dense")}, mstore)
    ev = sparsity_evidence(runs)
    rho = ev["sparse"]["rho"]
    assert abs(ev["sparse"]["mean_activation"] - rho) < abs(ev["dense"]["mean_activation"] - rho)
    assert ev["sparse"]["mean_activation"] < 0.2 < ev["dense"]["mean_activation"]
    assert len(ev["sparse"]["unit_means"]) == 1024


def test_overcomplete_reconstructs_digits_closer(mstore):
    runs = train_lesson("complete", "test", mstore)
    ev = complete_evidence(runs)
    assert ev["over"]["rel_digits"] < 0.5 * ev["under"]["rel_digits"]
    assert ev["over"]["rel_shapes"] < ev["under"]["rel_shapes"]  # copies what it has never seen
    assert ev["odd"].shape[0] == len(ev["kinds"]) == 16


def test_every_lesson_has_claim_why_and_specs():
    for _key, lesson in LESSONS.items():
        assert lesson.claim and lesson.why and lesson.title
        for size in ("test", "cpu", "gpu"):
            specs = lesson.specs(size)
            assert all(c.run_id() for c in specs.values())
    # Lessons 2 and 3 share their runs through the cache.
    assert LESSONS["ae-latent"].specs("cpu") == LESSONS["vae-latent"].specs("cpu")
    assert LESSONS["mlp-cnn"].specs("cpu")["mlp"].train_limit is None


# ---- pages ---------------------------------------------------------------------------------------------
def _app(page: str):
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(str(ROOT / "app_pages" / page), default_timeout=120)


def test_lessons_page_renders_without_runs():
    at = _app("lessons.py").run()
    assert not at.exception, at.exception
    assert any("Claim" in i.value for i in at.info)
    assert any(b.label.startswith("▶ Train") for b in at.button)
    at.sidebar.radio[0].set_value("curse").run()
    assert not at.exception, at.exception
    assert any("Why" in s.value for s in at.success)


def test_lessons_page_shows_evidence_of_cached_runs(mstore, monkeypatch):
    train_lesson("mlp-cnn", "test", mstore)
    train_lesson("vae-latent", "test", mstore)
    monkeypatch.setenv("AE_LAB_CHECKPOINTS", str(mstore.root))
    at = _app("lessons.py")
    at.run()
    at.sidebar.toggle[0].set_value(True).run()  # quick version = the 'test' size trained above
    at.sidebar.radio[0].set_value("mlp-cnn").run()
    assert not at.exception, at.exception
    assert not [b for b in at.button if b.label.startswith("▶ Train")]
    assert len(at.metric) == 2
    at.sidebar.radio[0].set_value("vae-latent").run()
    assert not at.exception, at.exception
    assert len(at.dataframe) == 1


def test_compare_page(store):
    at = _app("compare.py").run()
    assert not at.exception and any("No finished runs" in i.value for i in at.info)
    for beta in (0.5, 4.0):
        train(preset("seed-vae", dataset="synthetic", epochs=1, beta=beta), store=store)
    train(preset("seed-mlp-ae", dataset="synthetic", epochs=1), store=store)
    at = _app("compare.py").run()
    assert not at.exception, at.exception
    assert len(at.multiselect[0].value) == 3
    assert len(at.dataframe) == 1 and len(at.dataframe[0].value) == 3
    assert len(at.get("image")) == 4  # originals + one row per run


def test_cli_lesson(capsys):
    import json

    from engine.cli import main

    assert main(["lesson"]) == 0
    assert "curse" in capsys.readouterr().out
    assert main(["lesson", "curse", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["evidence"]["sphere/cube d=2"] == pytest.approx(math.pi / 4)
    assert main(["lesson", "nope"]) == 2
    assert "unknown lesson 'nope'" in capsys.readouterr().err
