"""Lesson 1: the lecture's MLP vs CNN autoencoder — and what actually makes the difference.

The lecture's pair differs in two things at once: the architecture and the code size (the MLP squeezes a digit
into 3 numbers, the CNN keeps an 8×2×2 feature map, 32 numbers). A third run, the same MLP with a 32-number code,
separates them: the bottleneck makes the blur; at equal code size the two architectures reconstruct about equally
well and the CNN needs ~38.5× fewer weights. Arms with a small difference are trained at 3 seeds (error bars)."""

from __future__ import annotations

import torch

from ...core.config import RunConfig
from ...core.presets import preset
from .base import N_SHOW, Comparison, Runs, Size, n_weights, named, scaled, seed_stats, separated, sq_err, u8

ARMS = ("mlp", "mlp32", "cnn")
EPOCHS = 6  # per 10 cpu-size epochs: both findings and their error bars are as clear at 6 epochs as at 10
SHIFTS = (0, 1, 2, 3, 4)  # pixels


def mlp_cnn_specs(size: Size) -> dict[str, RunConfig]:
    b = scaled(size, EPOCHS)
    # The same optimiser for all three; a larger lr and smaller batches than the lecture's so a few epochs suffice.
    fast = dict(lr=3e-3, batch_size=16) if size == "test" else dict(lr=2e-3, batch_size=32)
    if size == "test":
        b["epochs"] = 5
    return {"mlp": preset("seed-mlp-ae", **b, **fast),
            "mlp32": named(preset("seed-mlp-ae", latent_dim=32, **b, **fast), "seed-mlp-ae-32"),
            "cnn": preset("seed-cnn-ae", **b, **fast)}


COMPARISONS = (
    Comparison(("mlp", "cnn"), ("arch", "hidden", "latent_dim"),
               "the lecture's pair, as the lecture drew it: another network and a 32-number instead of a 3-number "
               "code at once, so it cannot say which of the two makes the difference"),
    Comparison(("mlp", "mlp32"), ("latent_dim",), "the bottleneck alone: the same MLP with a 32-number code"),
    Comparison(("mlp32", "cnn"), ("arch", "hidden"),
               "the architecture alone, at the same 32-number code: 'hidden' (the MLP's layer sizes) goes with the "
               "MLP — the CNN's layers are the lecture's convolutions"),
)
LABELS = {"mlp": "MLP, 3-number code (lecture)", "mlp32": "MLP, 32-number code", "cnn": "CNN, 32-number code (lecture)"}


def shift(x: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """Images moved by (dx, dy) pixels, filled with black (not wrapped around)."""
    out = torch.zeros_like(x)
    h, w = x.shape[-2:]
    src_y, dst_y = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    src_x, dst_x = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[..., dst_y, dst_x] = x[..., src_y, src_x]
    return out


@torch.no_grad()
def shifted_error(model, x01: torch.Tensor, k: int) -> float:
    """Mean reconstruction error of digits moved k pixels left, right, up and down (each image against itself)."""
    moves = ((k, 0), (-k, 0), (0, k), (0, -k)) if k else ((0, 0),)
    errs = [float(sq_err(model.reconstruct(xs).cpu(), xs).mean()) for xs in (shift(x01, *m) for m in moves)]
    return sum(errs) / len(errs)


@torch.no_grad()
def mlp_cnn_evidence(runs: Runs, n: int = N_SHOW, shifts: tuple[int, ...] = SHIFTS) -> dict:
    """Per arm: reconstructions of the same held-out digits (seed 0); over the arm's seeds (mean ± spread) the
    held-out error and how much it grows when the digits are moved k pixels; the code size and the weights. Then
    the findings, each with whether its gap exceeds 3× the seed spread."""
    x, _ = runs.heldout("mlp")
    out: dict = {"orig": u8(x[:n]), "shifts": list(shifts)}
    for arm in ARMS:
        cfg, model = runs.model(arm)
        rec = model.reconstruct(x).cpu()
        err = sq_err(rec, x)
        shifted = [[shifted_error(runs.model(k)[1], x, s) for s in shifts] for k in runs.replicas(arm)]
        out[arm] = {"recon": u8(rec[:n]), "errors": err[:n].tolist(), "mse01": float(err.mean()),
                    "seeds": seed_stats([row[0] for row in shifted]),
                    "growth": [seed_stats([row[i] - row[0] for row in shifted]) for i in range(len(shifts))],
                    "latent_dim": cfg.latent_dim, "params": n_weights(cfg)}
    m, m32, c = (out[a]["seeds"] for a in ARMS)
    k = shifts.index(2) if 2 in shifts else len(shifts) - 1
    g32, gc = out["mlp32"]["growth"][k], out["cnn"]["growth"][k]
    out["winner"] = "cnn" if c["mean"] < m["mean"] else "mlp"  # the lecture's pair
    out["findings"] = {
        "bottleneck": {"gap": m["mean"] - m32["mean"], "separated": separated(m, m32)},
        "equal_code": {"gap": c["mean"] - m32["mean"], "relative": abs(c["mean"] - m32["mean"]) / m32["mean"],
                       "separated": separated(m32, c), "weights_ratio": out["mlp32"]["params"] / out["cnn"]["params"]},
        "shift": {"pixels": shifts[k], "mlp32": g32["mean"], "cnn": gc["mean"], "separated": separated(g32, gc)},
    }
    return out
