"""Lesson 7: an under-complete autoencoder learns digits; an over-complete one without a penalty copies its input."""

from __future__ import annotations

import torch

from ...core.config import RunConfig
from ...core.presets import preset
from ...data import load
from .base import N_SHOW, Comparison, Runs, Size, named, scaled, sq_err, u8

COMPLETE_EPOCHS = 4  # per 10 cpu-size epochs: the over-complete AE copies unseen shapes at half the error


def complete_specs(size: Size) -> dict[str, RunConfig]:
    base = dict(sparsity_weight=0.0, latent_activation="none", **scaled(size, COMPLETE_EPOCHS))
    if size == "test":
        base["batch_size"] = 32
    return {"under": named(preset("sparse-ae", latent_dim=16, **base), "undercomplete-ae"),
            "over": named(preset("sparse-ae", latent_dim=1024, **base), "overcomplete-ae")}


COMPARISONS = (Comparison(("under", "over"), ("latent_dim",)),)
LABELS = {"under": "under-complete (k = 16)", "over": "over-complete (k = 1024)"}


def strangers(active: torch.Tensor, n_noise: int = 8, seed: int = 0) -> tuple[torch.Tensor, list[str]]:
    """Inputs that are not digits: simple shapes and random noise, drawn where MNIST has ink (`active` mask)."""
    yy, xx = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    r2 = (xx - 14) ** 2 + (yy - 14) ** 2
    shapes = [((xx - 14).abs() < 6) & ((yy - 14).abs() < 6), (r2 < 49) & (r2 > 16),
              ((xx - yy).abs() < 2) & (xx > 4) & (xx < 24), ((xx - 14).abs() < 2) | ((yy - 14).abs() < 2),
              ((xx + yy - 28).abs() < 2) | ((xx - yy).abs() < 2), (yy > 8) & (yy < 20) & ((xx.long() // 3) % 2 == 0),
              (r2 < 36), ((xx - 9).abs() < 2) | ((xx - 19).abs() < 2) | ((yy - 14).abs() < 2) & (xx > 9) & (xx < 19)]
    g = torch.Generator().manual_seed(seed)
    noise = torch.rand(n_noise, 1, 28, 28, generator=g)
    imgs = torch.cat([torch.stack(shapes).float().unsqueeze(1), noise]) * active
    return imgs, ["shape"] * len(shapes) + ["noise"] * n_noise


def _relative(rec: torch.Tensor, target: torch.Tensor) -> float:
    """Mean over images of squared error / the input's energy (0 = a perfect copy)."""
    return float((sq_err(rec, target) / target.pow(2).flatten(1).sum(1).clamp_min(1e-6)).mean())


@torch.no_grad()
def complete_evidence(runs: Runs) -> dict:
    """Reconstruction error, as a fraction of the input's energy, on held-out digits and on non-digits.
    A model that copies its input reconstructs everything; one that compresses only reconstructs digits."""
    x, _ = runs.heldout("under")
    train_x = load(runs.specs["under"].dataset).train_x
    active = (train_x.std(0) > 0.05).float()
    odd, kinds = strangers(active)
    shape = torch.tensor([k == "shape" for k in kinds])
    out: dict = {"orig": u8(x[:N_SHOW]), "odd": u8(odd), "kinds": kinds}
    for key in ("under", "over"):
        cfg, model = runs.model(key)
        rd, ro = model.reconstruct(x).cpu(), model.reconstruct(odd).cpu()
        out[key] = {"latent_dim": cfg.latent_dim, "digits": u8(rd[:N_SHOW]), "odd": u8(ro),
                    "rel_digits": _relative(rd, x), "rel_shapes": _relative(ro[shape], odd[shape]),
                    "rel_noise": _relative(ro[~shape], odd[~shape])}
    return out
