"""Lessons 4 and 5: the β sweep (reconstruction vs KL) and samples improving over the epochs.

The samples lesson trains the β = 1 run of the sweep for longer: a run of the same settings with more epochs
continues the shorter one in the checkpoint store, so the sweep's β = 1 run is its first half."""

from __future__ import annotations

import torch

from ...core.config import RunConfig
from ...core.losses import ACTIVE_KL_NATS
from ...core.presets import preset
from .base import N_SHOW, Comparison, Runs, Size, scaled, u8
from .judge import digit_confidence, stroke_share

BETAS = (0.0, 0.5, 1.0, 4.0, 16.0)
SWEEP_EPOCHS = 3  # per 10 cpu-size epochs: the sweep's ordering is plain after a few epochs
SAMPLES_EPOCHS = 10  # samples need the full length to look like digits


def beta_specs(size: Size, betas: tuple[float, ...] = BETAS) -> dict[str, RunConfig]:
    b = scaled(size, SWEEP_EPOCHS)
    return {f"beta={beta:g}": preset("seed-vae", beta=beta, **b) for beta in betas}


def beta_comparisons(betas: tuple[float, ...] = BETAS) -> tuple[Comparison, ...]:
    return (Comparison(tuple(f"beta={b:g}" for b in betas), ("beta",)),)


def beta_evidence(runs: Runs, n: int = N_SHOW) -> dict:
    """Per β: the held-out terms of the last epoch, the KL of each latent dimension (which are switched off: KL
    below `ACTIVE_KL_NATS`), the terms over the epochs, reconstructions and samples."""
    rows, curves, samples, recons = [], [], {}, {}
    x, _ = runs.heldout(next(iter(runs.specs)))
    for key, spec in runs.specs.items():
        h = runs.history(key)
        last = h["epochs"][-1]["heldout"] if h["epochs"] else {}
        kd = last.get("kl_per_dim", [])
        cfg, model = runs.model(key)
        rec = model.reconstruct(x[:n]).cpu()
        snap = runs.store.snapshot(runs.run_id(key)) or {}
        rows.append({"beta": spec.beta, "recon": last.get("recon"), "kl": last.get("kl"), "mse01": last.get("mse01"),
                     "posterior_std": last.get("posterior_std"), "active_dims": sum(v > ACTIVE_KL_NATS for v in kd),
                     "kl_per_dim": kd})
        for e in h["epochs"]:
            curves.append({"beta": spec.beta, "epoch": e["epoch"], "recon": e["heldout"]["recon"],
                           "kl": e["heldout"]["kl"]})
        samples[spec.beta] = snap.get("samples", torch.zeros(0, 1, 28, 28, dtype=torch.uint8))[:16]
        recons[spec.beta] = u8(rec)
    return {"rows": rows, "curves": curves, "samples": samples, "recons": recons, "orig": u8(x[:n]),
            "latent_dim": next(iter(runs.specs.values())).latent_dim, "active_threshold": ACTIVE_KL_NATS}


def epochs_specs(size: Size) -> dict[str, RunConfig]:
    return {"vae": preset("seed-vae", **scaled(size, SAMPLES_EPOCHS))}


def epochs_evidence(runs: Runs, n: int = 16) -> dict:
    """The same codes decoded after every epoch, the held-out loss per epoch, and per epoch how digit-like all 64
    samples are (`judge`: stroke share and a classifier's confidence), next to the same numbers for real digits."""
    snaps = [(e, s["samples"]) for e, s in runs.snapshots("vae") if s and "samples" in s]
    h = runs.history("vae")
    x, _ = runs.heldout("vae")
    ds = runs.specs["vae"].dataset
    real = x[:64]
    return {"frames": [(e, s[:n]) for e, s in snaps],
            "curve": [{"epoch": e["epoch"], "loss": e["heldout"]["loss"], "recon": e["heldout"]["recon"],
                       "kl": e["heldout"]["kl"]} for e in h["epochs"]],
            "digitness": [{"epoch": e, "stroke_share": stroke_share(s), "confidence": digit_confidence(s, ds)}
                          for e, s in snaps],
            "real": {"stroke_share": stroke_share(real), "confidence": digit_confidence(real, ds)}}
