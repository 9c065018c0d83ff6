"""The reparameterization trick, demonstrated with autograd on a real VAE.

With z = μ + σ⊙ε the reconstruction loss has a gradient with respect to the encoder's μ and σ (and so its
weights); with z drawn by `torch.distributions.Normal(μ, σ).sample()` it has none: the draw is not a
differentiable function of μ and σ. Only the KL term would then reach the encoder. The score-function
(REINFORCE) estimator gets a gradient without the trick, at the price of a much larger variance.
"""

from __future__ import annotations

import torch

from ..core.losses import kl_per_image, recon_per_image
from ..core.models import VAE

Norms = dict[str, float | None]  # None: autograd found no path from the loss to that tensor


def _norm(g: torch.Tensor | None) -> float | None:
    return None if g is None else float(g.norm())


def _params_norm(grads: tuple[torch.Tensor | None, ...]) -> float | None:
    """The joint L2 norm of a group of parameter gradients; None when none of them has one."""
    present = [g for g in grads if g is not None]
    return None if not present else float(torch.sqrt(sum(g.pow(2).sum() for g in present)))


def gradient_flow(model: VAE, x01: torch.Tensor, seed: int = 0, trick: bool = True,
                  with_kl: bool = False) -> Norms:
    """Gradient norms of one batch's loss (reconstruction, plus β=1 KL if `with_kl`) with respect to μ, log σ²,
    the encoder's weights and the decoder's weights, sampling z with the trick or with `.sample()` (the same
    draw of ε for a given seed, so the decoder's gradient is the same either way).

    The model's weights are not changed and keep no .grad (torch.autograd.grad is used)."""
    inp = model.to_model(x01.to(model.device))
    mu, logvar = model.encode(inp)
    std = torch.exp(0.5 * logvar)
    with torch.random.fork_rng(devices=[]):  # the same ε in both cases; the process's random state is left alone
        torch.manual_seed(seed)
        if trick:
            z = mu + std * torch.randn_like(std)
        else:
            z = torch.distributions.Normal(mu, std).sample()  # a draw: no grad_fn, no path back to mu or std
    loss = recon_per_image(model.decode(z), inp, model.recon_kind).mean()
    if with_kl:
        loss = loss + kl_per_image(mu, logvar).mean()
    encoder = [p for name, p in model.named_parameters() if not name.startswith("decoder.")]
    decoder = list(model.decoder.parameters())
    grads = torch.autograd.grad(loss, [mu, logvar, *encoder, *decoder], allow_unused=True)
    return {"loss": float(loss.detach()), "mu": _norm(grads[0]), "logvar": _norm(grads[1]),
            "encoder": _params_norm(grads[2:2 + len(encoder)]), "decoder": _params_norm(grads[2 + len(encoder):])}


def trick_vs_sample(model: VAE, x01: torch.Tensor, seed: int = 0) -> dict[str, Norms]:
    """The three cases the page compares, on the same batch: the trick, `.sample()`, `.sample()` + KL."""
    return {"trick": gradient_flow(model, x01, seed, trick=True),
            "sample": gradient_flow(model, x01, seed, trick=False),
            "sample_kl": gradient_flow(model, x01, seed, trick=False, with_kl=True)}


@torch.no_grad()
def example_draw(model: VAE, x01: torch.Tensor, seed: int = 0, dim: int = 0) -> dict[str, float]:
    """One coordinate of one reparameterized draw for the first image: μ, σ, ε and z = μ + σ·ε."""
    mu, logvar = model.encode(model.to_model(x01[:1].to(model.device)))
    eps = float(torch.randn(1, generator=torch.Generator().manual_seed(seed)))
    m, s = float(mu[0, dim]), float(torch.exp(0.5 * logvar[0, dim]))
    return {"mu": m, "sigma": s, "eps": eps, "z": m + s * eps}


def estimator_variance(model: VAE, x01: torch.Tensor, n: int = 256, seed: int = 0) -> dict:
    """Per-sample estimates of ∂E_q[recon]/∂μ for one image (x01: (1, C, H, W)), by the pathwise
    (reparameterized) and the score-function (REINFORCE) estimator, from the same n draws of ε.

    Both are unbiased for the same gradient; returns their means (K,), their variances averaged over the K
    dimensions, and the ratio of the variances (score / pathwise)."""
    inp = model.to_model(x01[:1].to(model.device))
    with torch.no_grad():
        mu, logvar = model.encode(inp)
    std = torch.exp(0.5 * logvar)
    eps = torch.randn(n, mu.shape[1], generator=torch.Generator(device=mu.device).manual_seed(seed),
                      device=mu.device)
    mus = mu.expand(n, -1).clone().requires_grad_(True)
    f = recon_per_image(model.decode(mus + std * eps), inp.expand(n, *inp.shape[1:]), model.recon_kind)
    (pathwise,) = torch.autograd.grad(f.sum(), mus)  # row s: d f(z_s) / d mu
    score = f.detach()[:, None] * eps / std  # f(z_s) · ∇_μ log q(z_s) = f(z_s) · (z_s − μ) / σ²
    var_p, var_s = float(pathwise.var(0).mean()), float(score.var(0).mean())
    return {"n": n, "pathwise_mean": pathwise.mean(0).cpu(), "score_mean": score.mean(0).cpu(),
            "pathwise_var": var_p, "score_var": var_s, "ratio": var_s / var_p if var_p > 0 else float("inf")}
