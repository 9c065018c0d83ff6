"""Lesson 6, regularized autoencoders: denoising, contractive and sparse AEs, each beside the lecture's loss and
the same model with its penalty off; the sparsity part sets the lecture's per-input form beside Ng's per-unit form."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from engine.teaching import formulas as fm
from engine.teaching.lessons import LESSONS, denoising_evidence

from ..draw.images import show_row
from ..draw.plots import histogram
from ..draw.vega import show_chart
from .view import lesson_runs


def _loss_of(role: str, size: str) -> str:
    """The loss the lesson's `role` run minimises, with its own weights (from its RunConfig)."""
    c = LESSONS["regularizers"].specs(size)[role]
    return fm.ae_loss(c.recon, c.recon_reduction, noise=(c.noise_kind, c.noise_std or 0.0),
                      contractive=c.contractive_weight or 0.0, sparsity=c.sparsity_weight or 0.0,
                      rho=c.sparsity_target)


def _formula(lecture: str, role: str, size: str, text: str, run_text: str = "") -> None:
    a, b = st.columns(2)
    with a:
        st.latex(lecture)
        st.caption(f"The lecture's form. {text}")
    with b:
        st.latex(_loss_of(role, size))
        st.caption(run_text or "What this lesson's run minimises, with its weights.")


def show_denoising(size: str) -> None:
    st.subheader("Denoising")
    _formula(fm.ae_denoising(), "denoising", size, "T corrupts the input; the target is still the clean x.")
    level = st.slider("Noise level (Gaussian std on pixels in [0, 1])", 0.0, 1.0, 0.5, 0.05, key="lesson_noise")
    d = denoising_evidence(lesson_runs("regularizers", size), level)
    show_row(d["orig"], "clean held-out digits")
    show_row(d["noisy"], f"noisy input · error {d['err_noisy']:.1f}")
    show_row(d["plain"], f"plain AE's output · error {d['err_plain']:.1f}")
    show_row(d["denoising"], f"denoising AE's output · error {d['err_denoising']:.1f}")
    st.caption("Error = squared difference from the *clean* digit, summed over pixels, averaged over 1,000 digits.")


def show_contractive(c: dict, size: str) -> None:
    st.subheader("Contractive")
    _formula(fm.ae_contractive(), "contractive", size, "Added to the reconstruction loss with a weight λ: small "
             "‖∇ₓE‖ means the code barely moves when x moves.")
    cols = st.columns(2)
    cols[0].metric("latent movement, contractive penalty on", f"{c['contractive']['relative']:.3f}")
    cols[1].metric("latent movement, penalty off", f"{c['uncontracted']['relative']:.3f}")
    rows = [{"model": m, "movement": v} for m, k in (("penalty on", "contractive"), ("penalty off", "uncontracted"))
            for v in c[k]["movement"]]
    show_chart(histogram, rows, "movement", "model", f"How far the code moves when each input gets noise of "
               f"std {c['eps']}", x_title="‖E(x+δ) − E(x)‖ / spread of the codes")
    st.caption(f"Movement is relative to the codes' overall spread, so shrinking the whole code does not count. "
               f"Reconstruction error: {c['contractive']['mse01']:.1f} (on) vs {c['uncontracted']['mse01']:.1f} (off).")


SPARSE = (("sparse", "lecture's ρ(x): per input"), ("sparse_ng", "Ng's ρ̂ⱼ: per unit"), ("dense", "no penalty"))


def show_sparsity(s: dict, size: str) -> None:
    st.subheader("Sparsity")
    w = LESSONS["regularizers"].specs(size)["sparse"].sparsity_weight
    _formula(fm.ae_sparsity(), "sparse_ng", size, "ρ_k(x) is, for one input x, the mean activation over the n "
             f"units of layer k: each digit is pulled to use few units. The lecture-form run weighs it {w:g}.",
             "Ng's per-unit form, as the other sparse run minimises it: ρ̂ⱼ is unit j's mean activation over the "
             "batch, one KL per unit.")
    cols = st.columns(3)
    cols[0].metric("target ρ", f"{s['sparse']['rho']:.2f}")
    cols[1].metric("mean activation, lecture's sparsity", f"{s['sparse']['mean_activation']:.3f}")
    cols[2].metric("mean activation, sparsity off", f"{s['dense']['mean_activation']:.3f}")
    table = [{"penalty": name, "sparsity_form": s[k]["form"] if k != "dense" else "—",
              "mean act.": s[k]["mean_activation"], "spread over units": s[k]["unit_spread"],
              "spread over inputs": s[k]["input_spread"], "silent units": s[k]["silent_units"],
              "units > 0.5": s[k]["fraction_on"], "error": s[k]["mse01"]} for k, name in SPARSE]
    st.dataframe(pd.DataFrame(table).round(3), hide_index=True, width="stretch")
    st.markdown(
        "**Two sparsities.** The lecture averages over the layer's units *for each input*: ρ(x) = mean activation of "
        "the layer on x, and pulls it to the target — every digit may switch on only a few units, whichever they "
        "are, so the spread over inputs is small. Andrew Ng's form (the usual one, `sparsity_form = per_unit`) "
        "averages each unit *over the inputs*, ρ̂ⱼ, and pulls every unit to the target — every unit must be rarely "
        "on, so the spread over units is small. The lecture names the target ρ̂ and the measured mean ρ; Ng the other "
        "way round.")
    rows = [{"model": name, "activation": v} for k, name in SPARSE for v in s[k]["sample"]]
    show_chart(histogram, rows, "activation", "model", "Activations of the 1,024 code units on 50 digits",
               y_title="activations")
    st.caption("Spread over units = standard deviation of the units' mean activations ρ̂ⱼ; spread over inputs = of "
               "the digits' mean activations ρ(x); silent = units whose mean is below 0.01; error = held-out "
               "reconstruction error per image.")


def show_regularizers(ev: dict, size: str) -> None:
    st.latex(fm.ae_vanilla())
    st.caption("The lecture's plain AE loss: every regularizer below adds a wish to it, or corrupts its input.")
    show_denoising(size)
    show_contractive(ev["contractive"], size)
    show_sparsity(ev["sparsity"], size)
