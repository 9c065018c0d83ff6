"""The reparameterization trick on a real VAE: autograd finds a gradient for the encoder's μ and σ with the
trick, none at all through `.sample()`; the score-function estimator agrees in mean and is far noisier."""

from __future__ import annotations

import torch

from engine.core.models import build_model
from engine.core.presets import preset
from engine.teaching.reparam import estimator_variance, gradient_flow, trick_vs_sample


def vae(**overrides):
    torch.manual_seed(0)
    return build_model(preset("seed-vae", **{"hidden": (32,), "latent_dim": 4, **overrides}))


def batch(n: int = 16) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(1))


def test_the_trick_lets_the_gradient_reach_mu_sigma_and_the_encoder():
    g = gradient_flow(vae(), batch(), trick=True)
    for key in ("mu", "logvar", "encoder", "decoder"):
        assert g[key] is not None and g[key] > 0, (key, g)


def test_sampling_with_sample_gives_the_encoder_no_gradient_at_all():
    g = gradient_flow(vae(), batch(), trick=False)
    assert g["mu"] is None and g["logvar"] is None and g["encoder"] is None, g
    assert g["decoder"] is not None and g["decoder"] > 0, "the decoder still learns from the drawn z"
    with_trick = gradient_flow(vae(), batch(), trick=True)
    assert abs(g["decoder"] - with_trick["decoder"]) < 1e-4 * with_trick["decoder"], "the same z both ways"
    assert abs(g["loss"] - with_trick["loss"]) < 1e-4 * with_trick["loss"]


def test_without_the_trick_only_the_kl_term_reaches_the_encoder():
    model, x = vae(), batch()
    both = trick_vs_sample(model, x)
    assert both["sample"]["encoder"] is None
    kl_only = both["sample_kl"]
    assert kl_only["encoder"] is not None and kl_only["encoder"] > 0
    # the KL gradient wrt mu is mu / B exactly: nothing from the reconstruction
    mu, _ = model.encode(model.to_model(x))
    assert abs(kl_only["mu"] - float(mu.detach().norm() / len(x))) < 1e-5


def test_the_gradient_flow_leaves_the_weights_alone():
    model = vae()
    before = [p.detach().clone() for p in model.parameters()]
    gradient_flow(model, batch())
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_score_function_and_pathwise_estimate_the_same_gradient_with_different_variance():
    model = vae()
    ev = estimator_variance(model, batch(1), n=4000)
    assert ev["ratio"] > 10, ev["ratio"]
    diff = (ev["score_mean"] - ev["pathwise_mean"]).abs()
    # both unbiased: the score-function mean lies within a few of its standard errors of the pathwise mean
    assert bool((diff < 5 * (ev["score_var"] / ev["n"]) ** 0.5).all()), (diff, ev["score_var"])
