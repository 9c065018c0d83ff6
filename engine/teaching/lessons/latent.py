"""Lessons 2 and 3: the AE latent space has holes; the VAE latent space is regular.

Both lessons share their runs: the lecture's VAE (784-400-2-400-784) and the same network with the variational
part switched off (no sampling, no KL) — so the only difference between the two maps is what the VAE adds."""

from __future__ import annotations

import torch

from ...core.config import RunConfig
from ...core.presets import preset
from ..posterior import aggregate, posterior_params
from .base import Comparison, Runs, Size, named, scaled, seed_stats, u8

LATENT_EPOCHS = 5  # per 10 cpu-size epochs: the AE's holes and the VAE's fit to the prior show by then


def latent_specs(size: Size) -> dict[str, RunConfig]:
    b = scaled(size, LATENT_EPOCHS)
    if size == "test":
        b["batch_size"] = 32  # 4× the steps: a 2-D VAE needs them to spread over the prior
    return {"ae": named(preset("seed-vae", variational=False, latent_dim=2, **b), "seed-vae-as-ae"),
            "vae": preset("seed-vae", latent_dim=2, **b)}


COMPARISONS = (Comparison(("ae", "vae"), ("variational",)),)
LABELS = {"ae": "AE (VAE network, no KL, no sampling)", "vae": "VAE (lecture, 2-D code)"}


def plane_grid(lo: tuple[float, float], hi: tuple[float, float], n: int) -> torch.Tensor:
    """n×n points of a 2-D box, row 0 at the top (largest z₂), as (n*n, 2)."""
    xs = torch.linspace(lo[0], hi[0], n)
    ys = torch.linspace(hi[1], lo[1], n)
    a, b = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([b.flatten(), a.flatten()], 1)


def nearest_real(images: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """For each image, the squared distance to the closest real digit: how digit-like a decode is."""
    return torch.cdist(images.flatten(1), real.flatten(1)).min(1).values.pow(2)


def gaussian_gap(z: torch.Tensor) -> float:
    """How far codes are from N(0, I): mean over dims of |mean| + |std − 1| (0 for a perfect fit)."""
    return float((z.mean(0).abs() + (z.std(0) - 1).abs()).mean())


def model_codes(mu: torch.Tensor, logvar: torch.Tensor | None) -> torch.Tensor:
    """The codes the model hands out (from `posterior_params`), as the lecture's aggregate posterior
    p(z) = Σ_x q(z|x)p(x) sees them: one draw μ + σ·ε per image for a VAE (μ alone is narrower than N(0, I) in a
    good VAE: std(μ) < 1), z for an AE. This is what is compared with N(0, I)."""
    return mu if logvar is None else aggregate(mu, logvar)["z"]


def _box(z: torch.Tensor, variational: bool) -> tuple[tuple[float, float], tuple[float, float]]:
    if variational:
        return (-2.5, -2.5), (2.5, 2.5)  # where the prior N(0, I) puts its mass
    q_lo, q_hi = torch.quantile(z, 0.01, dim=0), torch.quantile(z, 0.99, dim=0)
    pad = (q_hi - q_lo) * 0.25
    return tuple((q_lo - pad).tolist()), tuple((q_hi + pad).tolist())


@torch.no_grad()
def latent_evidence(runs: Runs, key: str = "ae", n_grid: int = 12, n_points: int = 1000) -> dict:
    """Codes of held-out digits, and decodes of a grid over the plane (the codes' box plus a margin; the prior's
    ±2.5σ box for a VAE).

    `emptiness`: fraction of grid points farther from every code than 3× the typical gap between codes;
    `garbage`: mean squared distance of a grid decode to its closest real digit (high = not a digit)."""
    x, y = runs.heldout(key)
    x, y = x[:n_points], y[:n_points]
    cfg, model = runs.model(key)
    mu, logvar = posterior_params(model, x)  # encoded once: μ draws the map, μ + σ·ε is compared with N(0, I)
    z = mu[:, :2]
    lo, hi = _box(z, model.variational)
    pts = plane_grid(lo, hi, n_grid)
    imgs = model.generate(pts).cpu()
    gap = torch.cdist(z, z).fill_diagonal_(float("inf")).min(1).values.median()
    far = torch.cdist(pts, z).min(1).values > 3 * gap
    near_real = nearest_real(imgs, x)
    return {"z": z, "labels": y, "grid": u8(imgs), "lo": lo, "hi": hi, "n_grid": n_grid,
            "emptiness": float(far.float().mean()), "garbage": float(near_real.mean()),
            "garbage_empty": float(near_real[far].mean()) if far.any() else float("nan"),
            **_moments(z, model_codes(mu, logvar)[:, :2])}


def _moments(mu: torch.Tensor, codes: torch.Tensor) -> dict:
    """The codes' mean and std per dimension and their distance from N(0, I), measured on the aggregate codes
    (μ + σ·ε for a VAE); and std(μ) beside them, which a good VAE keeps below 1."""
    return {"mean": codes.mean(0).tolist(), "std": codes.std(0).tolist(), "std_mu": mu.std(0).tolist(),
            "gap_to_normal": gaussian_gap(codes)}


def _seeded(runs: Runs, arm: str, n_grid: int) -> dict:
    """The seed-0 run's evidence, plus mean ± spread over the arm's seeds of the numbers the claim rests on."""
    evs = [latent_evidence(runs, k, n_grid) for k in runs.replicas(arm)]
    return {**evs[0], "seeds": {m: seed_stats([e[m] for e in evs]) for m in ("emptiness", "gap_to_normal")}}


def ae_latent_evidence(runs: Runs, n_grid: int = 12) -> dict:
    return _seeded(runs, "ae", n_grid)


def vae_latent_evidence(runs: Runs, n_grid: int = 12) -> dict:
    ev = _seeded(runs, "vae", n_grid)
    ev["ae"] = _seeded(runs, "ae", n_grid)
    return ev
