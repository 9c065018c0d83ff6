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


def contractive_per_image(encode: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """||dE(x)/dx||_F^2 for each image: shape (B,), differentiable (for training).

    Images are independent, so d(sum_b z[b, j])/dx gives row j of every image's Jacobian at once:
    K vector-Jacobian products (batched into one vmapped backward pass) give the exact norm.
    For wide codes (K > 64) an unbiased random-projection estimate E_v ||J^T v||^2 with 16 probes is used.
    """
    x = x.detach().requires_grad_(True)
    z = encode(x)
    b, k = z.shape
    if k <= 64:
        probes = torch.eye(k, device=z.device, dtype=z.dtype).unsqueeze(1).expand(k, b, k)
        scale = 1.0
    else:
        probes = torch.randn(16, b, k, device=z.device, dtype=z.dtype)
        scale = 1.0 / 16
    (rows,) = torch.autograd.grad(z, x, grad_outputs=probes, create_graph=True, is_grads_batched=True)
    return rows.pow(2).flatten(2).sum(2).sum(0) * scale


def sparsity_kl(activations: torch.Tensor, rho: float) -> torch.Tensor:
    """sum_j KL(rho || rho_hat_j), where rho_hat_j is unit j's mean activation over the batch: a scalar."""
    rho_hat = activations.mean(0).clamp(1e-6, 1 - 1e-6)
    return (rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))).sum()


def corrupt(x01: torch.Tensor, kind: str, level: float) -> torch.Tensor:
    """The denoising corruption T(x) on images in [0, 1]: Gaussian noise (clipped) or masking noise."""
    if level <= 0:
        return x01
    if kind == "gaussian":
        return (x01 + level * torch.randn_like(x01)).clamp(0, 1)
    if kind == "mask":
        return x01 * (torch.rand_like(x01) >= level)
    raise ValueError(f"unknown noise kind '{kind}'")
