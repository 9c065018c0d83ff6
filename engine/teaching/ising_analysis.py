"""What an autoencoder learned about Ising configurations: its code against temperature and magnetisation
(after Wetzel, Phys. Rev. E 96, 022140 (2017))."""

from __future__ import annotations

import torch

from ..core.models import Autoencoder
from ..data.ising import IsingSet, heldout


@torch.no_grad()
def analyse(model: Autoencoder, data: IsingSet, batch: int = 1000) -> dict[str, torch.Tensor]:
    """Per held-out sample: T, m, |m|, energy, the latent code (μ for a VAE) and the reconstruction error
    (mean squared error per spin in [0, 1] pixels), for plots of the code vs T and |m|."""
    held = heldout(data)
    x = ((held.spins.float() + 1) / 2).unsqueeze(1)
    model.eval()
    zs, errs = [], []
    for i in range(0, len(x), batch):
        xb = x[i:i + batch]
        z = model.code(xb)
        rec = model.generate(z).cpu()
        zs.append(z.float().cpu())
        errs.append((rec - xb).pow(2).flatten(1).mean(1))
    m = held.m
    return {"T": held.T, "temp_index": held.temp_index, "m": m, "abs_m": m.abs(), "energy": held.energy,
            "z": torch.cat(zs), "recon_err": torch.cat(errs)}
