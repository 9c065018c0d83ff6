"""What is measured and drawn after every epoch: held-out metrics per image, and the snapshot the pages draw
(uint8 images of fixed held-out digits, their reconstructions, decoded fixed z, latent codes)."""

from __future__ import annotations

import math

import torch

from .config import RunConfig
from .losses import corrupt, kl_per_dim, recon_per_image
from .models import Autoencoder

N_RECON = 16  # held-out images whose reconstructions are snapshotted every epoch
N_SAMPLES = 64  # fixed z decoded every epoch (VAEs)
N_LATENT = 1000  # held-out images whose codes are snapshotted every epoch
EVAL_SEED = 12345  # the z sampled for the held-out ELBO, and the corruption of held-out digits
SNAPSHOT_NOISE_SEED = 777  # the corruption of the snapshotted digits (denoising AEs)


def to_uint8(x01: torch.Tensor) -> torch.Tensor:
    return (x01.clamp(0, 1) * 255).round().to(torch.uint8).cpu()


@torch.no_grad()
def evaluate(model: Autoencoder, cfg: RunConfig, x01: torch.Tensor, beta: float, batch: int = 1000) -> dict:
    """Held-out metrics, per image. For VAEs the loss is the negative ELBO with one sampled z;
    `mse01` is the squared error in pixel space [0, 1] of the deterministic reconstruction, comparable
    across every model; `kl_per_dim` and `posterior_std` show which latent dimensions are in use."""
    model.eval()
    with torch.random.fork_rng(devices=[x01.device] if x01.device.type == "cuda" else []):
        torch.manual_seed(EVAL_SEED)
        sums: dict[str, float] = {}
        kl_dims, std_sum = None, 0.0
        for i in range(0, len(x01), batch):
            xb = x01[i:i + batch]
            target = model.to_model(xb)
            vals = {}
            if model.variational:
                mu, logvar = model.encode(target)
                vals["recon"] = recon_per_image(model.decode(model.reparameterize(mu, logvar)), target, cfg.recon).sum()
                kd = kl_per_dim(mu, logvar)
                vals["kl"] = kd.sum()
                kl_dims = kd.sum(0) if kl_dims is None else kl_dims + kd.sum(0)
                std_sum += float(torch.exp(0.5 * logvar).mean(1).sum())
                det = model.decode(mu)
            else:
                det = model.decode(model.encode(target))
                vals["recon"] = recon_per_image(det, target, cfg.recon).sum()
                vals["kl"] = torch.zeros(())
            vals["mse01"] = (model.to_pixels(det) - xb).pow(2).flatten(1).sum(1).sum()
            if cfg.noise_std > 0:
                noisy = corrupt(xb, cfg.noise_kind, cfg.noise_std)
                vals["denoised_mse01"] = (model.reconstruct(noisy) - xb).pow(2).flatten(1).sum(1).sum()
                vals["noisy_mse01"] = (noisy - xb).pow(2).flatten(1).sum(1).sum()
            for k, v in vals.items():
                sums[k] = sums.get(k, 0.0) + float(v)
    n = len(x01)
    out = {k: v / n for k, v in sums.items()}
    scale = 1 / math.prod(x01.shape[1:]) if cfg.recon_reduction == "mean" else 1.0
    out["loss"] = out["recon"] * scale + beta * out["kl"]
    if model.variational:
        out["kl_per_dim"] = [float(v) / n for v in kl_dims]
        out["posterior_std"] = std_sum / n
    model.train()
    return out


@torch.no_grad()
def snapshot(model: Autoencoder, cfg: RunConfig, test_x: torch.Tensor, test_y: torch.Tensor,
             fixed_z: torch.Tensor | None) -> dict:
    """What the pages draw for one epoch: uint8 images and latent codes of fixed held-out digits."""
    model.eval()
    xs = test_x[:N_RECON]
    snap: dict = {"orig": to_uint8(xs), "recon": to_uint8(model.reconstruct(xs))}
    if cfg.noise_std > 0:
        with torch.random.fork_rng(devices=[xs.device] if xs.device.type == "cuda" else []):
            torch.manual_seed(SNAPSHOT_NOISE_SEED)
            noisy = corrupt(xs, cfg.noise_kind, cfg.noise_std)
        snap["noisy"] = to_uint8(noisy)
        snap["denoised"] = to_uint8(model.reconstruct(noisy))
    if fixed_z is not None:
        snap["samples"] = to_uint8(model.generate(fixed_z))
    n = min(N_LATENT if model.latent_dim <= 64 else 200, len(test_x))
    snap["latent"] = model.code(test_x[:n]).float().cpu()
    snap["labels"] = test_y[:n].cpu()
    model.train()
    return snap
