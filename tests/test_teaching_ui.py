"""The Streamlit-free pieces behind the teaching pages: formula builders, the latent map's geometry (plane,
ellipses, prior contours, nearest digit), the aggregate posterior, the drawn digit, the curse of
dimensionality and the lecture's listings."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
import torch

from engine.core.models import build_model
from engine.core.presets import preset
from engine.teaching import formulas as fm
from engine.teaching.dimensionality import best_dim, density_table, peaking
from engine.teaching.drawing import fit_shape, percentile, recon_error, to_mnist
from engine.teaching.latent import from_plane, interpolate, nearest, pixel_distance_to_data, project_2d, to_plane
from engine.teaching.lecture import MLP_AE, VAE, differences, listing, printed_model
from engine.teaching.posterior import (
    aggregate,
    dynamics_text,
    ellipse,
    histogram,
    posterior_params,
    prior_contours,
)


def balanced(tex: str) -> bool:
    depth = 0
    for ch in tex.replace(r"\{", "").replace(r"\}", ""):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0 and tex.count(r"\begin{") == tex.count(r"\end{")


# ---- formulas ---------------------------------------------------------------------------------------
def test_every_formula_builder_gives_balanced_latex():
    for name, fn in inspect.getmembers(fm, inspect.isfunction):
        if fn.__module__ != fm.__name__ or name == "num":
            continue
        if name == "kl_sum":
            tex = fn([3.0, 0.01, 2.0, 0.5])
        elif name == "kl_one_dim":
            tex = fn(1.2, 0.2)
        elif name == "corruption":
            tex = fn("mask", 0.3)
        else:
            tex = fn()
        assert isinstance(tex, str) and tex and balanced(tex), (name, tex)
        assert "$" not in tex, name


def test_num_formats_for_latex():
    assert fm.num(152.3456) == "152.3"
    assert fm.num(0.0000123) == r"1.23\times 10^{-5}"
    assert fm.num(1e-5) == r"10^{-5}"
    assert fm.num(None) == r"\text{?}" and fm.num(float("nan")) == r"\text{?}"


def test_vae_loss_is_filled_in_with_the_numbers():
    tex = fm.vae_loss(150.0, 25.0, beta=2.0)
    assert balanced(tex) and "150" in tex and r"2\times 25" in tex and "= 200" in tex
    assert r"\mathrm{BCE}" in tex and r"\log" in fm.bce(), "BCE by name, written out by bce()"
    mean = fm.vae_loss(784.0, 1.0, beta=1.0, recon_kind="mse", reduction="mean")
    assert r"\tfrac{1}{784}" in mean and "= 2" in mean and r"\|x" in mean


def test_ae_loss_shows_only_the_active_terms_with_their_weights():
    plain = fm.ae_loss("mse", "mean", values={"recon": 31.2, "loss": 0.0398})
    assert r"\nabla_x" not in plain and r"\hat\rho" not in plain and "T(x)" not in plain
    assert "31.2" in plain and "0.0398" in plain
    full = fm.ae_loss("bce", "sum", noise=("gaussian", 0.5), contractive=0.1, sparsity=2.0, rho=0.05,
                      values={"recon": 100.0, "contractive": 3.0, "sparsity": 0.5, "loss": 101.3})
    assert balanced(full)
    pieces = ("T(x)", r"0.1\;\mathbb{E}_x\|\nabla_x E_\phi(x)\|_F^2", r"KL\big(0.05", r"0.1\cdot 3", r"2\cdot 0.5",
              "101.3")
    for piece in pieces:
        assert piece in full, (piece, full)


def test_kl_formulas_match_the_closed_form():
    tex = fm.kl_one_dim(1.0, 1.0)
    assert r"= 0.5\ \text{nats}" in tex  # -½(1 + 0 − 1 − 1) = ½
    total = fm.kl_sum([3.0, 0.01, 2.0, 0.5], show=2)
    assert "z_{1}" in total and "z_{3}" in total and "other 2" in total and "= 5.51" in total


def test_curse_formulas_carry_the_numbers():
    assert "2.46" in fm.hypersphere_ratio(20, 2.46e-8)
    assert fm.sample_cost(20, 10).endswith("= 10^{20}"), "10 per axis is already a power of 10: no '= 10^{20.0}'"
    assert fm.sample_cost(3, 5).endswith("= 5^{3} = 10^{2.1}")
    assert "1.01" in fm.per_axis(60000, 784)


# ---- the latent map's geometry --------------------------------------------------------------------------
def test_plane_round_trip_for_every_latent_size():
    torch.manual_seed(0)
    for k in (1, 2, 5):
        codes = torch.randn(100, k) * torch.linspace(3, 1, k)
        proj = project_2d(codes)
        assert torch.allclose(to_plane(proj, codes), proj["xy"], atol=1e-5), k
        back = from_plane(proj, proj["xy"][:3])
        assert back.shape == (3, k)
        assert torch.allclose(to_plane(proj, back), proj["xy"][:3], atol=1e-5)


def test_nearest_and_distance():
    codes = torch.tensor([[0.0, 0.0], [3.0, 4.0], [10.0, 0.0]])
    assert nearest(codes, torch.tensor([3.0, 3.0])) == (1, 1.0)


def test_ellipses_are_honest_projections():
    # 2-D latent: axis-aligned with semi-axes σ
    proj = project_2d(torch.randn(50, 2))
    e = ellipse(proj, torch.tensor([1.0, -1.0]), torch.log(torch.tensor([4.0, 0.25])))
    assert e.shape == (48, 2)
    assert abs(float(e[:, 0].max()) - 3.0) < 1e-2 and abs(float(e[:, 1].min()) + 1.5) < 1e-2
    # 5-D latent: the projected covariance B diag(σ²) Bᵀ, checked against samples
    torch.manual_seed(1)
    codes = torch.randn(400, 5) * torch.tensor([4.0, 2.0, 1.0, 0.5, 0.2])
    proj = project_2d(codes)
    mu, logvar = torch.zeros(5), torch.log(torch.tensor([1.0, 4.0, 0.1, 2.0, 0.3]))
    pts = mu + torch.randn(20000, 5) * (0.5 * logvar).exp()
    cov = torch.cov(to_plane(proj, pts).T)
    e = ellipse(proj, mu, logvar, n_points=400) - to_plane(proj, mu)
    # every boundary point has Mahalanobis distance 1 under the sampled covariance
    maha = (e @ torch.linalg.inv(cov) * e).sum(1)
    assert torch.allclose(maha, torch.ones(400), atol=0.05), maha
    assert ellipse(project_2d(torch.randn(9, 1)), torch.zeros(1), torch.zeros(1)) is None
    assert ellipse(proj, mu, None) is None


def test_prior_contours_are_circles_of_radius_1_2_3():
    proj = project_2d(torch.randn(60, 6))
    rings = prior_contours(proj)
    centre = to_plane(proj, torch.zeros(6))
    for r, ring in zip((1.0, 2.0, 3.0), rings, strict=True):
        assert torch.allclose((ring - centre).norm(dim=1), torch.full((72,), r), atol=1e-4)
    assert prior_contours(project_2d(torch.randn(9, 1))) == []


# ---- the aggregate posterior ---------------------------------------------------------------------------
def test_aggregate_posterior_uses_mu_plus_sigma_eps():
    n = 20000
    mu = torch.randn(n, 3, generator=torch.Generator().manual_seed(5)) * 0.6  # std(μ) = 0.6 < 1 ...
    logvar = torch.full((n, 3), math.log(0.64))  # ... and σ² = 0.64: Var[z] = 0.36 + 0.64 = 1
    agg = aggregate(mu, logvar)
    p = agg["pooled"]
    assert abs(p["std_mu"] - 0.6) < 0.02 and abs(p["std_z"] - 1.0) < 0.02 and abs(p["mean_z"]) < 0.02
    assert abs(p["var_mu"] + p["mean_var"] - 1.0) < 0.03
    h = histogram(agg["z"])
    assert abs(sum(h["density"]) * h["width"] - 1) < 1e-5
    shifted = aggregate(mu + torch.tensor([2.0, -2.0, 0.0]), logvar)["pooled"]  # dimensions with different means
    assert abs(shifted["std_z"] ** 2 - (shifted["var_mu"] + shifted["mean_var"])) < 0.03, "std(z)² = the sum shown"
    assert abs(shifted["std_mu"] ** 2 - shifted["var_mu"]) < 1e-6 and abs(shifted["std_mu"] - 0.6) < 0.02
    assert max(abs(a - b) for a, b in zip(h["density"], h["normal"], strict=True)) < 0.03


def test_dynamics_text_says_which_term_wins():
    def epochs(*rows):
        return [{"epoch": i + 1, "heldout": {"recon": r, "kl": k, "posterior_std": s}} for i, (r, k, s) in
                enumerate(rows)]

    assert "reconstruction term is winning" in dynamics_text(epochs((200, 5, 0.9), (150, 20, 0.4)))
    assert "similarity term is winning" in dynamics_text(epochs((150, 20, 0.4), (170, 8, 0.8)))
    assert "no tug of war yet" in dynamics_text(epochs((250, 18, 1.2), (210, 6, 0.5)))
    assert dynamics_text(epochs((1, 1, 1))) is None and dynamics_text([]) is None


def test_posterior_params_of_a_vae_and_an_ae():
    x = torch.rand(5, 1, 28, 28)
    mu, logvar = posterior_params(build_model(preset("seed-vae", hidden=(16,), latent_dim=3)), x)
    assert mu.shape == (5, 3) and logvar.shape == (5, 3)
    code, none = posterior_params(build_model(preset("seed-mlp-ae")), x)
    assert code.shape == (5, 3) and none is None


def test_interpolation_and_distance_to_data():
    model = build_model(preset("seed-vae", hidden=(16,), latent_dim=3)).eval()
    path = interpolate(model, torch.zeros(3), torch.ones(3), n=7)
    assert path.shape == (7, 1, 28, 28) and torch.allclose(path[0], model.generate(torch.zeros(1, 3))[0])
    real = torch.rand(4, 1, 28, 28)
    d = pixel_distance_to_data(torch.cat([real[2:3], real[0:1] + 0.1]), real)
    assert float(d[0]) == 0.0 and float(d[1]) <= 784 * 0.01 + 1e-3


# ---- the drawn digit ------------------------------------------------------------------------------------
def canvas_with_stroke(h: int = 280, w: int = 280) -> np.ndarray:
    """An RGBA canvas: black background, a thick white vertical bar off to the upper left."""
    rgba = np.zeros((h, w, 4), dtype=np.uint8)
    rgba[..., 3] = 255
    rgba[30:150, 40:60, :3] = 255
    return rgba


def test_a_drawing_becomes_an_mnist_like_digit():
    x = to_mnist(canvas_with_stroke())
    assert x.shape == (1, 1, 28, 28) and float(x.max()) == pytest.approx(1.0) and float(x.min()) >= 0
    img = x[0, 0]
    rows, cols = torch.nonzero(img > 0.05, as_tuple=True)
    assert int(rows.max() - rows.min()) + 1 <= 21, "scaled into the 20×20 box"
    total = img.sum()
    cy = float((img.sum(1) * torch.arange(28)).sum() / total)
    cx = float((img.sum(0) * torch.arange(28)).sum() / total)
    assert abs(cy - 13.5) <= 1 and abs(cx - 13.5) <= 1, "centre of mass at the centre"


def test_empty_or_missing_drawings_give_none():
    assert to_mnist(None) is None
    assert to_mnist(np.zeros((280, 280, 4), dtype=np.uint8)) is None
    blank = np.zeros((280, 280, 4), dtype=np.uint8)
    blank[..., 3] = 255  # an opaque black canvas, nothing drawn
    assert to_mnist(blank) is None
    assert to_mnist(np.zeros((0, 0))) is None


def test_any_model_shape_takes_the_drawing_and_gets_a_percentile():
    x = to_mnist(canvas_with_stroke())
    assert fit_shape(x, (3, 16, 16)).shape == (1, 3, 16, 16)
    model = build_model(preset("seed-cnn-ae")).eval()
    score = float(recon_error(model, x)[0])
    assert score > 0
    assert percentile(score, torch.tensor([score - 1, score, score + 1, score + 2])) == 50.0


# ---- the curse of dimensionality ----------------------------------------------------------------------------
def test_sample_density_and_peaking():
    rows = density_table(60000, dims=(1, 2, 784))
    assert rows[1]["per_axis"] == pytest.approx(60000 ** 0.5) and rows[2]["per_axis"] < 1.02
    assert rows[2]["log10_needed"] == pytest.approx(784)
    peak = peaking(dims=(1, 2, 5, 10, 20, 50, 100, 300, 1000), n_train=5, trials=200)
    known = [r["known"] for r in peak]
    assert all(a > b for a, b in zip(known, known[1:], strict=False)), "true means: more features always help"
    best = best_dim(peak)
    assert peak[0]["estimated"] > best["estimated"] < peak[-1]["estimated"], "estimated means: a peak"
    assert 1 < best["d"] < 1000


# ---- the lecture's listings -----------------------------------------------------------------------------------
def test_listings_match_the_presets_and_name_the_differences():
    assert listing(preset("seed-mlp-ae")).model == MLP_AE and listing(preset("seed-vae")).model == VAE
    assert "b, 8, 2, 2" in listing(preset("seed-cnn-ae")).model
    text, params = printed_model(preset("seed-vae"))
    assert "fc_mu" in text and "Linear(in_features=784, out_features=400" in text and params == 652824
    vae = " ".join(differences(preset("seed-vae")))
    assert "whole batch" in vae and "averages over the batch" in vae and "128×" in vae
    mlp = " ".join(differences(preset("seed-mlp-ae")))
    assert "784-128-64-12-3" in mlp and "`nn.MSELoss()` exactly" in mlp
    custom = " ".join(differences(preset("seed-mlp-ae", hidden=(32,), latent_dim=2, recon_reduction="sum")))
    assert "hidden sizes 32" in custom and "summed over the 784 pixels" in custom
    cnn = " ".join(differences(preset("seed-cnn-ae", latent_dim=2)))
    assert "Linear(32, 2)" in cnn
