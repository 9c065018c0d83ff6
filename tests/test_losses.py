"""Every loss term against values computed by hand or by brute force."""

import math

import pytest
import torch
from torch import nn

from engine.core.losses import contractive_per_image, corrupt, kl_per_dim, kl_per_image, recon_per_image, sparsity_kl
from engine.core.models import build_model
from engine.core.presets import preset


def test_mse_is_summed_per_image():
    recon = torch.tensor([[[[0.0, 1.0], [0.5, 0.5]]], [[[1.0, 1.0], [1.0, 1.0]]]])  # (2, 1, 2, 2)
    target = torch.tensor([[[[0.0, 0.0], [0.0, 1.0]]], [[[1.0, 1.0], [1.0, 1.0]]]])
    # image 0: 0 + 1 + 0.25 + 0.25 = 1.5; image 1: identical -> 0
    assert torch.allclose(recon_per_image(recon, target, "mse"), torch.tensor([1.5, 0.0]))


def test_bce_is_summed_per_image():
    recon = torch.tensor([[[[0.5, 0.9]]], [[[0.2, 0.2]]]])
    target = torch.tensor([[[[1.0, 0.0]]], [[[0.0, 0.5]]]])
    want0 = -math.log(0.5) - math.log(0.1)
    want1 = -math.log(0.8) - (0.5 * math.log(0.2) + 0.5 * math.log(0.8))
    assert torch.allclose(recon_per_image(recon, target, "bce"), torch.tensor([want0, want1]))


def test_unknown_reconstruction_loss():
    with pytest.raises(ValueError, match="unknown reconstruction loss"):
        recon_per_image(torch.zeros(1, 1), torch.zeros(1, 1), "l1")


def test_kl_is_zero_for_the_prior():
    mu, logvar = torch.zeros(3, 5), torch.zeros(3, 5)
    assert torch.equal(kl_per_image(mu, logvar), torch.zeros(3))


def test_kl_hand_value():
    # KL(N(mu, s^2) || N(0, 1)) = 0.5 (s^2 + mu^2 - 1 - ln s^2) per dimension
    mu = torch.tensor([[1.0, 0.0], [2.0, -1.0]])
    logvar = torch.tensor([[0.0, math.log(4.0)], [math.log(0.25), 0.0]])
    per_dim = torch.tensor([[0.5, 0.5 * (4 - 1 - math.log(4))], [0.5 * (0.25 + 4 - 1 - math.log(0.25)), 0.5]])
    assert torch.allclose(kl_per_dim(mu, logvar), per_dim)
    assert torch.allclose(kl_per_image(mu, logvar), per_dim.sum(1))


def test_kl_matches_torch_distributions():
    torch.manual_seed(0)
    mu, logvar = torch.randn(4, 6), torch.randn(4, 6)
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(torch.zeros(4, 6), torch.ones(4, 6))
    assert torch.allclose(kl_per_image(mu, logvar), torch.distributions.kl_divergence(q, p).sum(1), atol=1e-5)


def _brute_jacobian_norm(encode, x: torch.Tensor) -> torch.Tensor:
    out = []
    for i in range(len(x)):
        j = torch.autograd.functional.jacobian(lambda v: encode(v.unsqueeze(0)).squeeze(0), x[i])
        out.append(j.pow(2).sum())
    return torch.stack(out)


def test_contractive_penalty_of_a_linear_encoder_is_frobenius_norm_of_w():
    torch.manual_seed(0)
    lin = nn.Linear(12, 5)
    encode = nn.Sequential(nn.Flatten(), lin)
    x = torch.randn(3, 1, 3, 4)
    got = contractive_per_image(encode, x)
    want = lin.weight.pow(2).sum().detach()
    assert got.shape == (3,)
    assert torch.allclose(got, want.expand(3), rtol=1e-5)


def test_contractive_penalty_matches_brute_force_for_a_nonlinear_encoder():
    torch.manual_seed(0)
    encode = nn.Sequential(nn.Flatten(), nn.Linear(16, 10), nn.Tanh(), nn.Linear(10, 4), nn.Sigmoid())
    x = torch.randn(5, 1, 4, 4)
    got = contractive_per_image(encode, x)
    assert torch.allclose(got, _brute_jacobian_norm(encode, x), rtol=1e-5)
    got.sum().backward()  # differentiable: the penalty trains the encoder
    assert encode[1].weight.grad.abs().sum() > 0


def test_contractive_through_the_first_layers_gram_matrix_equals_the_full_jacobian():
    """The model's fast path (VJPs stop after the first linear layer, W Wᵀ does the rest) gives the same penalty and
    the same weight gradients as the Jacobian with respect to the pixels."""
    torch.manual_seed(0)
    cfg = preset("contractive-ae", hidden=(24,), latent_dim=6)
    model = build_model(cfg, (1, 5, 6))
    x = torch.rand(7, 1, 5, 6)
    fast = model.contractive(x)
    slow = contractive_per_image(model.encode, x)
    assert fast.shape == (7,)
    assert torch.allclose(fast, slow, rtol=1e-5)
    assert torch.allclose(fast, _brute_jacobian_norm(model.encode, x), rtol=1e-5)
    w = model.encoder[1].weight
    (g_fast,) = torch.autograd.grad(fast.sum(), w)
    (g_slow,) = torch.autograd.grad(slow.sum(), w)
    assert g_fast.abs().sum() > 0
    assert torch.allclose(g_fast, g_slow, rtol=1e-4, atol=1e-6)


def test_contractive_random_projection_for_wide_codes_is_close_and_unbiased():
    torch.manual_seed(0)
    encode = nn.Sequential(nn.Flatten(), nn.Linear(20, 100), nn.Sigmoid())  # K = 100 > 64: random probes
    x = torch.randn(4, 1, 4, 5)
    exact = _brute_jacobian_norm(encode, x)
    one = contractive_per_image(encode, x).detach()
    assert ((one - exact).abs() / exact).max() < 0.6  # 16 probes: a rough estimate per call
    mean = torch.stack([contractive_per_image(encode, x).detach() for _ in range(200)]).mean(0)
    assert torch.allclose(mean, exact, rtol=0.05)  # ... that is right on average


def test_sparsity_kl_is_zero_at_target():
    acts = torch.tensor([[0.1, 0.0], [0.1, 0.2]])  # column means 0.1, 0.1
    assert sparsity_kl(acts, 0.1).abs() < 1e-6


def test_sparsity_kl_hand_value():
    acts = torch.tensor([[0.2, 0.5], [0.4, 0.5]])  # rho_hat = 0.3, 0.5
    rho = 0.1
    kl = lambda r, q: r * math.log(r / q) + (1 - r) * math.log((1 - r) / (1 - q))  # noqa: E731
    assert sparsity_kl(acts, rho).item() == pytest.approx(kl(rho, 0.3) + kl(rho, 0.5), rel=1e-5)


def test_gaussian_corruption_statistics():
    torch.manual_seed(0)
    x = torch.full((200, 1, 28, 28), 0.5)
    noisy = corrupt(x, "gaussian", 0.1)
    d = noisy - x
    assert abs(d.mean().item()) < 2e-3
    assert d.std().item() == pytest.approx(0.1, rel=0.02)
    assert noisy.min() >= 0 and noisy.max() <= 1
    assert corrupt(x, "gaussian", 0.0) is x


def test_gaussian_corruption_is_clipped_to_pixels():
    noisy = corrupt(torch.zeros(100, 1, 28, 28), "gaussian", 1.0)
    assert noisy.min() == 0 and noisy.max() <= 1
    assert (noisy == 0).float().mean().item() == pytest.approx(0.5, abs=0.02)  # half the noise is negative


def test_mask_corruption_statistics():
    torch.manual_seed(0)
    x = torch.rand(100, 1, 28, 28) * 0.9 + 0.1  # no zero pixels
    noisy = corrupt(x, "mask", 0.3)
    dropped = noisy == 0
    assert dropped.float().mean().item() == pytest.approx(0.3, abs=0.01)
    assert torch.equal(noisy[~dropped], x[~dropped])  # kept pixels are untouched


def test_unknown_noise_kind():
    with pytest.raises(ValueError, match="unknown noise kind"):
        corrupt(torch.zeros(1, 1, 2, 2), "salt", 0.1)
