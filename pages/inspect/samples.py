"""Samples: digits a VAE decodes from random codes z ~ N(0, I) — over epochs and fresh on demand."""

from __future__ import annotations

import numpy as np
import streamlit as st

from engine.teaching import formulas as fm
from engine.teaching.latent import fresh_samples
from ui.backend import store
from ui.draw.images import show_grid
from ui.pickers import run_and_config
from ui.runs import model_or_error, snapshot, spread_out

st.title("Samples")
st.caption("A VAE's KL term makes the codes of real images look like draws from N(0, I). So decoding a *random* z "
           "from N(0, I) should give a new, plausible digit — that is what makes the VAE a generative model.")

rid, cfg = run_and_config(key="smp_run", help="VAEs make the best samplers; an AE is here for the contrast.")

# ---- fixed z over epochs ------------------------------------------------------------------------
st.subheader("The same random codes, decoded after each epoch")
epochs = store().snapshot_epochs(rid)
if not cfg.variational:
    st.info("This is a deterministic autoencoder: it has no prior, so no fixed-z samples were recorded during "
            "training. Try the fresh samples below to see why an AE is not a generator, or pick a VAE run.")
elif not epochs:
    st.info("No finished epoch yet.")
else:
    shown = spread_out(epochs, 10)
    strip = [snapshot(rid, e) for e in shown]
    strip = [(e, s) for e, s in zip(shown, strip, strict=True) if s is not None and "samples" in s]
    if strip:
        rows = np.concatenate([s["samples"][:10] for _, s in strip])
        left, right = st.columns([3, 2])
        with left:
            show_grid(rows, f"one row per epoch ({', '.join(str(e) for e, _ in strip)}), top to bottom; "
                      "each column keeps its z fixed", nrow=10)
        with right:
            st.markdown(
                "Each **column** decodes one fixed z ~ N(0, I); each **row** is a later epoch. Early on every z gives "
                "the same grey average blob. As the decoder learns, the blobs split into different digits and "
                "sharpen — yet a column usually stays the *same* digit, because the latent layout settles early.")
            last_e, last = strip[-1]
            show_grid(last["samples"], f"all 64 fixed-z samples after epoch {last_e}", nrow=8, scale=2)

# ---- fresh samples ------------------------------------------------------------------------------
st.subheader("Fresh samples on demand")
c1, c2, c3 = st.columns(3)
n = c1.select_slider("How many", [16, 32, 64, 100], value=32, key="smp_n",
                     help="Number of random codes to decode.")
seed = c2.number_input("Seed", value=0, step=1, key="smp_seed",
                       help="Picks the random codes: same seed, same samples. Change it for new ones.")
temp = c3.slider("Temperature (spread of z)", 0.1, 2.0, 1.0, 0.1, key="smp_temp",
                 help="Multiplies z's standard deviation. < 1 stays near the centre of the prior (cleaner, more "
                      "average digits); > 1 wanders to the edges (stranger digits).")
match = False
if not cfg.variational:
    match = st.toggle("Draw z with the spread of the AE's real codes (instead of N(0, I))", value=False,
                      key="smp_match",
                      help="An AE's codes are not centred on 0 with unit spread; this uses their mean and std per "
                           "dimension. Even then, most random codes land in the empty space between digit clusters.")
if seed < 0:
    st.error("The seed must be 0 or a positive whole number.")
else:
    model = model_or_error(rid)
    if model is not None:
        snap = snapshot(rid) if match else None
        imgs = fresh_samples(model, int(n), int(seed), temp, like=None if snap is None else snap["latent"])
        st.latex(fm.sampling(temp, matched=snap is not None))
        show_grid(imgs, f"{n} codes z ~ N({'μ_codes' if match else '0'}, "
                        f"{'σ_codes' if match else 'I'}{' × ' + format(temp, 'g') if temp != 1 else ''}) "
                        f"decoded by the latest checkpoint (seed {seed})", nrow=10 if n == 100 else 8)
        if cfg.variational:
            st.caption("These codes were never produced by any real image — the decoder invents the digits. Blurry "
                       "samples are typical of small VAEs: the BCE/MSE loss averages over the plausible strokes.")
        else:
            st.caption("Most of these are smudges: an AE's decoder was only trained on the codes of real images, "
                       "and random points of its latent space mostly fall in the gaps between digit clusters. "
                       "Compare with a VAE run.")
