"""Reconstructions: fixed held-out digits and what a run rebuilds from their codes, epoch by epoch."""

from __future__ import annotations

import numpy as np
import streamlit as st

from engine.teaching import formulas as fm
from ui.backend import store
from ui.draw.charts import bar_chart
from ui.draw.images import pixel_error, show_grid
from ui.draw.vega import show_chart
from ui.pickers import run_picker, snapshot_epoch_slider
from ui.runs import config_of, runs, snapshot

st.title("Reconstructions")
st.caption("The same 16 held-out digits (never trained on) go through the encoder and back out of the decoder after "
           "every epoch. Grey lines separate the images; each picture is the real 28×28 pixels, enlarged.")


def show_pairs(snap: dict, title: str | None = None) -> np.ndarray:
    """Originals (row 1, 3) above their reconstructions (row 2, 4), plus per-image error."""
    orig, recon = snap["orig"], snap["recon"]
    rows = np.concatenate([orig[:8], recon[:8], orig[8:16], recon[8:16]])
    show_grid(rows, title or "rows 1 & 3: originals · rows 2 & 4: reconstructions")
    err = pixel_error(orig, recon)
    st.caption(f"Mean squared pixel error (pixels in [0, 1]): **{float(err.mean()):.4f}** on average; the worst is "
               f"image #{int(err.argmax())} ({float(err.max()):.4f}).")
    return err


def slow_hint(run_id: str) -> None:
    """Why a short run of the lecture's AEs still looks like grey blobs (a student would think it is broken)."""
    cfg = config_of(run_id)
    done = len(store().snapshot_epochs(run_id))
    if cfg is not None and cfg.recon_reduction == "mean" and done < 30:
        st.caption(f"Only {done} epoch{'s' if done != 1 else ''} so far. The lecture's autoencoders (nn.MSELoss, "
                   "Adam at lr 1e-3 with weight decay 1e-5) learn slowly: sharp digits take tens of epochs, and "
                   "the presets train 100, as the code behind the lecture does. Train longer (the same settings "
                   "continue from here) or raise the learning rate.")


tab_one, tab_two = st.tabs(["One run over epochs", "Two runs side by side"])

with tab_one:
    rid = run_picker("Run", key="rec_run")
    if rid:
        epoch = snapshot_epoch_slider(rid, key=f"rec_epoch_{rid}")  # latest for each run
        snap = snapshot(rid, epoch) if epoch else None
        if snap is None:
            st.info("No snapshot for this epoch.")
        else:
            left, right = st.columns([3, 2])
            with left:
                err = show_pairs(snap)
                slow_hint(rid)
            with right:
                st.latex(fm.pixel_error(float(err.mean()), int(np.prod(snap["orig"].shape[1:]))))
                show_chart(bar_chart, err.tolist(), "squared error per pixel", x_title="held-out image #")
                cfg = config_of(rid)
                if cfg is not None:
                    kind = "VAE" if cfg.variational else "AE"
                    st.markdown(
                        f"**{cfg.arch.upper()} {kind}, latent size {cfg.latent_dim}.** "
                        + ("An MLP sees the image as a flat vector of 784 numbers, so fine strokes are easily "
                           "averaged away — expect blur. " if cfg.arch == "mlp" else
                           "Convolutions share small filters across the image, which keeps strokes sharper. ")
                        + ("A VAE also pays a KL price for every bit it stores in z, so it trades some sharpness "
                           "for a regular latent space. " if cfg.variational else "")
                        + "Slide the epoch back to see reconstructions start as grey blobs and sharpen."
                    )
            if "noisy" in snap:
                st.subheader("Denoising")
                show_grid(np.concatenate([snap["noisy"][:8], snap["denoised"][:8], snap["orig"][:8]]),
                          "row 1: corrupted input · row 2: the model's output · row 3: the clean original")
                st.caption("The model only ever saw corrupted inputs but was asked for the clean digit, so it "
                           "learned what digits look like rather than copying pixels.")

with tab_two:
    st.markdown("Compare two runs (each at its last finished epoch) on the same held-out digits — e.g. the "
                "lecture's **seed-mlp-ae** (blurry) against **seed-cnn-ae** (sharper). Train both on the Train page "
                "first.")
    c1, c2 = st.columns(2)
    ids = [m["run_id"] for m in runs()]
    second = ids[1] if len(ids) > 1 else None
    for col, key, default in ((c1, "rec_a", None), (c2, "rec_b", second)):
        with col:
            r = run_picker("Run", key=key, default=default)
            if r:
                s = snapshot(r)
                if s is None:
                    st.info("No snapshot yet.")
                else:
                    show_pairs(s, "originals / reconstructions (latest epoch)")
                    slow_hint(r)
