"""The loss a run minimises, rendered with `st.latex` and filled in with its latest numbers (Live run; any page
that shows a run's curves). The LaTeX itself comes from engine.teaching.formulas."""

from __future__ import annotations

import math

import streamlit as st

from engine.data import load
from engine.teaching import formulas as fm


def _pixels(dataset: str) -> int:
    """Pixels of one image of `dataset` (what a 'mean' reconstruction loss divides by); 784 if it cannot load."""
    try:
        return math.prod(load(dataset).shape)
    except Exception:  # noqa: BLE001 - an unavailable dataset: the MNIST size, as the lecture
        return fm.PIXELS


def loss_formulas(cfg: dict, values: dict | None, where: str = "now") -> None:
    """The run's loss — for a VAE the ELBO and recon + β·KL, for an AE its active terms with their weights —
    with `values` (a logged step or epoch point: recon, kl, beta, loss, contractive, sparsity) put in."""
    values = values or {}
    recon, reduction = cfg.get("recon", "mse"), cfg.get("recon_reduction", "sum")
    pixels = _pixels(cfg.get("dataset", "mnist"))
    if cfg.get("variational"):
        st.latex(fm.elbo())
        beta = values.get("beta", cfg.get("beta", 1.0))
        st.latex(fm.vae_loss(values.get("recon"), values.get("kl"), beta if beta is not None else 1.0, recon,
                             reduction, pixels))
        if values:
            st.caption(f"Per image, {where}. At β = 1 the loss is −ELBO"
                       + (" (in nats: BCE is −log p(x|z) of a Bernoulli decoder)." if recon == "bce" else
                          " up to constants (MSE is −log p(x|z) of a Gaussian decoder, up to scale and constants)."))
        return
    noise = (cfg.get("noise_kind", "gaussian"), float(cfg.get("noise_std") or 0.0))
    st.latex(fm.ae_loss(recon, reduction, noise=noise, contractive=float(cfg.get("contractive_weight") or 0.0),
                        sparsity=float(cfg.get("sparsity_weight") or 0.0), rho=float(cfg.get("sparsity_target", 0.05)),
                        values=values or None, pixels=pixels))
    if values:
        st.caption(f"Per image, {where}: the terms this run switched on, with its weights.")


def formula_columns(*items: tuple[str, str]) -> None:
    """Formulas side by side, each with its explanation (markdown) under it: items are (latex, markdown)."""
    for col, (tex, text) in zip(st.columns(len(items)), items, strict=True):
        with col:
            st.latex(tex)
            st.markdown(text)
