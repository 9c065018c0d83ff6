"""Lesson 6: regularized autoencoders, each next to the same model with its penalty switched off.

Sparsity comes in the lecture's form (for each input, the layer's mean activation over its units is pulled to the
target) and in Ng's (each unit's mean activation over the inputs is pulled to the target); see
`engine.core.losses.sparsity_kl`."""

from __future__ import annotations

import torch

from ...core.config import RunConfig
from ...core.presets import preset
from .base import N_SHOW, Comparison, Runs, Size, named, scaled, sq_err, u8

CONTRACT_EPOCHS = 2  # per 10 cpu-size epochs: the contractive penalty's effect stands ~9 seed spreads out (1: ~4)
SPARSE_EPOCHS = 1  # the sparsity penalties show after one epoch (margins ≥ 15 seed spreads)
DENOISE_EPOCHS = 5  # the AE trained on clean digits varies from seed to seed for longer (measured: 3 seeds)


def regularizer_specs(size: Size) -> dict[str, RunConfig]:
    c, sp, d = scaled(size, CONTRACT_EPOCHS), scaled(size, SPARSE_EPOCHS), scaled(size, DENOISE_EPOCHS)
    if size == "test":
        c["batch_size"] = sp["batch_size"] = d["batch_size"] = 32
    return {
        "denoising": preset("denoising-ae", **d),
        "plain": named(preset("denoising-ae", noise_std=0.0, **d), "plain-ae"),
        "contractive": preset("contractive-ae", **c),
        "uncontracted": named(preset("contractive-ae", contractive_weight=0.0, **c), "contractive-ae-off"),
        "sparse": preset("sparse-ae-lecture", **sp),
        "sparse_ng": preset("sparse-ae", **sp),
        "dense": named(preset("sparse-ae", sparsity_weight=0.0, **sp), "sparse-ae-off"),
    }


COMPARISONS = (
    Comparison(("plain", "denoising"), ("noise_std",)),
    Comparison(("uncontracted", "contractive"), ("contractive_weight",)),
    Comparison(("dense", "sparse_ng"), ("sparsity_weight",)),
    Comparison(("sparse_ng", "sparse"), ("sparsity_weight", "sparsity_form"),
               "the lecture's penalty is one KL per image where Ng's sums one per unit, so it carries the layer's "
               "1,024 units as its weight to pull as hard"),
)
LABELS = {"denoising": "denoising AE", "plain": "same AE, clean inputs", "contractive": "contractive AE",
          "uncontracted": "same AE, no penalty", "sparse": "sparse AE (lecture's per-input ρ(x))",
          "sparse_ng": "sparse AE (Ng's per-unit ρ̂)", "dense": "same AE, no penalty"}


@torch.no_grad()
def denoising_evidence(runs: Runs, level: float = 0.5, n: int = N_SHOW, seed: int = 0) -> dict:
    """Corrupt held-out digits with Gaussian noise of std `level`; error against the clean digits of the noisy
    input, of the plain AE's output and of the denoising AE's output."""
    x, _ = runs.heldout("denoising")
    g = torch.Generator().manual_seed(seed)
    noisy = (x + level * torch.randn(x.shape, generator=g)).clamp(0, 1)
    out = {"level": level, "orig": u8(x[:n]), "noisy": u8(noisy[:n]), "err_noisy": float(sq_err(noisy, x).mean())}
    for key in ("plain", "denoising"):
        cfg, model = runs.model(key)
        rec = model.reconstruct(noisy).cpu()
        out[key] = u8(rec[:n])
        out[f"err_{key}"] = float(sq_err(rec, x).mean())
    return out


@torch.no_grad()
def sensitivity(model, cfg: RunConfig, x01: torch.Tensor, eps: float = 0.05, seed: int = 0) -> dict:
    """Latent movement ‖E(x+δ) − E(x)‖ for small random δ (std `eps`), relative to the spread of the codes
    (so shrinking the whole code does not count as robustness)."""
    g = torch.Generator().manual_seed(seed)
    z = model.code(x01).cpu()
    z2 = model.code((x01 + eps * torch.randn(x01.shape, generator=g)).clamp(0, 1)).cpu()
    spread = float(z.std(0).norm()) + 1e-12
    move = (z2 - z).norm(dim=1)
    return {"movement": move, "spread": spread, "relative": float(move.mean()) / spread}


def contractive_evidence(runs: Runs, eps: float = 0.05) -> dict:
    x, _ = runs.heldout("contractive")
    out = {"eps": eps}
    for key in ("contractive", "uncontracted"):
        cfg, model = runs.model(key)
        s = sensitivity(model, cfg, x, eps)
        out[key] = {"relative": s["relative"], "movement": (s["movement"] / s["spread"]).tolist(),
                    "mse01": float(sq_err(model.reconstruct(x).cpu(), x).mean())}
    return out


@torch.no_grad()
def sparsity_evidence(runs: Runs) -> dict:
    """Per model: the mean activation (≈ ρ for both sparse forms), how it is spread — over units (each unit's mean
    over 500 digits: Ng's ρ̂_j) and over inputs (each digit's mean over the units: the lecture's ρ(x)) — and how
    many units never switch on."""
    x, _ = runs.heldout("sparse")
    out = {}
    for key in ("sparse", "sparse_ng", "dense"):
        cfg, model = runs.model(key)
        a = model.code(x[:500]).cpu()  # (n, units) sigmoid activations
        per_unit, per_input = a.mean(0), a.mean(1)
        out[key] = {"rho": cfg.sparsity_target, "form": cfg.sparsity_form, "mean_activation": float(a.mean()),
                    "unit_means": per_unit.tolist(), "input_means": per_input.tolist(),
                    "unit_spread": float(per_unit.std()), "input_spread": float(per_input.std()),
                    "silent_units": float((per_unit < 0.01).float().mean()),
                    "sample": a[:50].flatten().tolist(), "fraction_on": float((a > 0.5).float().mean()),
                    "mse01": float(sq_err(model.reconstruct(x).cpu(), x).mean())}
    return out


def regularizer_evidence(runs: Runs, level: float = 0.5) -> dict:
    return {"denoising": denoising_evidence(runs, level), "contractive": contractive_evidence(runs),
            "sparsity": sparsity_evidence(runs)}
