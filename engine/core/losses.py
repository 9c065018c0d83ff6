"""Every loss term in one place. Per-image values are sums over pixels (or latent dims), so the
reconstruction and KL terms live on the same scale and their tug of war is visible on one chart."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


def recon_per_image(recon: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    """Reconstruction error of each image, summed over its pixels: shape (B,)."""
    if kind == "mse":
        err = F.mse_loss(recon, target, reduction="none")
    elif kind == "bce":
        err = F.binary_cross_entropy(recon, target, reduction="none")
    else:
        raise ValueError(f"unknown reconstruction loss '{kind}'")
    return err.flatten(1).sum(1)


def kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, 1)) for each image and latent dimension: shape (B, K)."""
    return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())


def kl_per_image(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag sigma^2) || N(0, I)) of each image, summed over latent dims: shape (B,)."""
    return kl_per_dim(mu, logvar).sum(1)


def contractive_per_image(encode: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                          weight: torch.Tensor | None = None) -> torch.Tensor:
    """||dE(x)/dx||_F^2 for each image: shape (B,), differentiable (for training).

    Images are independent, so d(sum_b z[b, j])/dx gives row j of every image's Jacobian at once:
    K vector-Jacobian products (batched into one vmapped backward pass) give the exact norm.
    For wide codes (K > 64) an unbiased random-projection estimate E_v ||J^T v||^2 with 16 probes is used.

    With `weight` W, the encoder begins with a linear layer: `x` is that layer's output u = W·x + b (still
    attached to W) and `encode` the rest, u -> z. Row j of dz/dx is then r_j·W with r_j = dz_j/du, and
    ||r_j W||^2 = r_j (W Wᵀ) r_jᵀ: the same number, with the VJPs stopping at u (256 numbers for the lesson's
    encoder instead of 784 pixels), which makes a contractive training step several times cheaper.
    """
    if weight is None:
        x = x.detach().requires_grad_(True)
    z = encode(x if weight is None else x.clone())  # the clone keeps u intact under an in-place ReLU
    b, k = z.shape
    if k <= 64:
        probes = torch.eye(k, device=z.device, dtype=z.dtype).unsqueeze(1).expand(k, b, k)
        scale = 1.0
    else:
        probes = torch.randn(16, b, k, device=z.device, dtype=z.dtype)
        scale = 1.0 / 16
    (rows,) = torch.autograd.grad(z, x, grad_outputs=probes, create_graph=True, is_grads_batched=True)
    if weight is not None:
        return ((rows @ (weight @ weight.T)) * rows).sum(2).sum(0) * scale
    return rows.pow(2).flatten(2).sum(2).sum(0) * scale


# A latent dimension whose average KL(q(z_j|x) ‖ N(0, 1)) is below this carries (almost) no information about
# the image: "switched off". One threshold for the whole project (lessons, Latent space page).
ACTIVE_KL_NATS = 0.1


def _bernoulli_kl(p: float, q: torch.Tensor) -> torch.Tensor:
    """KL(Bernoulli(p) ‖ Bernoulli(q)), elementwise in q."""
    q = q.clamp(1e-6, 1 - 1e-6)
    return p * torch.log(p / q) + (1 - p) * torch.log((1 - p) / (1 - q))


def sparsity_kl(activations: torch.Tensor, rho: float, form: str = "per_unit") -> torch.Tensor:
    """The sparsity penalty for activations in (0, 1) of shape (B, units), with target mean activation `rho`: a scalar.

    "per_unit" (Ng's sparse-autoencoder notes, the default): each unit's mean activation over the batch,
    ρ̂_j = mean_b a_j(x_b), is pulled to ρ: sum_j KL(ρ ‖ ρ̂_j). Every unit must fire rarely (lifetime sparsity).
    "lecture" (the slides): for each input the layer's mean activation over its n units, ρ(x) = (1/n) sum_i a_i(x),
    is pulled to the target, averaged over inputs: mean_b KL(ρ ‖ ρ(x_b)). Each input may switch on only a small
    share of the units (population sparsity); which units those are is free. (The slides call the target ρ̂ and the
    measured value ρ(x); Ng calls the target ρ and the measured value ρ̂.)"""
    if form == "per_unit":
        return _bernoulli_kl(rho, activations.mean(0)).sum()
    if form == "lecture":
        return _bernoulli_kl(rho, activations.mean(1)).mean()
    raise ValueError(f"unknown sparsity form '{form}'")


def corrupt(x01: torch.Tensor, kind: str, level: float) -> torch.Tensor:
    """The denoising corruption T(x) on images in [0, 1]: Gaussian noise (clipped) or masking noise."""
    if level <= 0:
        return x01
    if kind == "gaussian":
        return (x01 + level * torch.randn_like(x01)).clamp(0, 1)
    if kind == "mask":
        return x01 * (torch.rand_like(x01) >= level)
    raise ValueError(f"unknown noise kind '{kind}'")
