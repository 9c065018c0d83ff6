"""Applications: compression (AE vs PCA), denoising your own image, anomaly detection, generation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from engine.data import data_root, load, variant
from engine.teaching.applications import (
    KS,
    ImageError,
    anomaly_specs,
    compression_specs,
    compression_table,
    denoise,
    image_from_bytes,
    interpolate,
    sample,
)
from engine.teaching.lessons import default_size, epochs_specs, regularizer_specs
from ui.background import ensure_runs
from ui.draw.images import show_grid
from ui.draw.plots import anomaly_histogram, lines, roc_chart
from ui.draw.vega import show_chart
from ui.runs import anomaly_reports, load_model

st.title("Applications")
st.caption("What autoencoders are used for, on real held-out MNIST digits. Each tool trains its small models once "
           "(in the background, cached) the first time you open it.")

with st.sidebar:
    quick = st.toggle("Quick version", value=False, key="app_quick",
                      help="2,000 training digits and 3 epochs: seconds instead of minutes, rougher results.")
size = "test" if quick else default_size()
data = load("mnist")
x, y = data.test_x, data.test_y


@st.cache_resource(show_spinner="Fitting PCA…", max_entries=4)
def pca_rows(which: str, root: str, ks: tuple[int, ...]) -> list[dict]:
    """PCA's errors, fitted once per server for the data `which` names (a deterministic function of the data:
    one fit, seconds, serves the whole class; concurrent first requests wait for it). Never modified."""
    return compression_table(data.train_x, x, None, ks)


def example(digit: int, k: int):
    """The k-th held-out image of `digit` (counting round when there are fewer)."""
    of_digit = x[y == digit]
    return of_digit[k % len(of_digit)]


def models(specs: dict) -> dict:
    return {k: load_model(c.run_id()) for k, c in specs.items()}


tab_c, tab_d, tab_a, tab_g = st.tabs(["Compression", "Denoising", "Anomaly detection", "Generation"])

# ---- compression -------------------------------------------------------------------------------------
with tab_c:
    st.markdown("**Compression / nonlinear PCA.** Squeeze each 784-pixel digit into *k* numbers and rebuild it. "
                "PCA is the best *linear* code; an autoencoder can bend its code along the curved set of digits.")
    specs = compression_specs(size)
    rows = list(pca_rows(variant("mnist"), str(data_root()), KS))
    if ensure_runs(specs, "app_compress", "one autoencoder per latent size"):
        ms = models(specs)
        rows += [r for r in compression_table(data.train_x[:1], x, {c.latent_dim: ms[k] for k, c in specs.items()}, KS)
                 if r["method"] == "autoencoder"]
    show_chart(lines, rows, "k", "error", "method", "Held-out reconstruction error vs code size", log_y=True,
               x_title="code size k", y_title="squared error per image", height=320)
    st.dataframe(pd.DataFrame(rows).pivot(index="k", columns="method", values="error").round(2))
    st.caption("Same 1,000 held-out digits for both; the error is the squared error per image with pixels in [0, 1]. "
               "Autoencoders: 784-256-k-256-784 MLPs, sigmoid output.")

# ---- denoising -------------------------------------------------------------------------------------
with tab_d:
    st.markdown("**Denoising.** A denoising autoencoder was trained to rebuild clean digits from noisy ones. "
                "Give it a digit — one of the held-out set, or your own picture — add noise and let it clean it.")
    den = {"denoising": regularizer_specs(size)["denoising"]}
    if ensure_runs(den, "app_denoise", "the denoising autoencoder"):
        cfg, model = load_model(den["denoising"].run_id())
        src = st.radio("Image", ["A held-out digit", "Upload a PNG/JPG"], horizontal=True, key="den_src")
        img = None
        if src == "A held-out digit":
            i = st.number_input("Held-out digit #", 0, len(x) - 1, 0, key="den_idx")
            img = x[int(i):int(i) + 1]
        else:
            f = st.file_uploader("Your image (PNG or JPG, ≤ 5 MB); dark ink on light paper is fine",
                                 type=["png", "jpg", "jpeg"], key="den_file")
            if f is not None:
                try:
                    img = image_from_bytes(f.getvalue(), f.name)
                except ImageError as e:
                    st.error(str(e))
        a, b = st.columns(2)
        level = a.slider("Noise level (Gaussian std)", 0.0, 1.0, 0.5, 0.05, key="den_level")
        seed = b.number_input("Noise seed", 0, 10_000, 0, key="den_seed")
        if img is not None:
            r = denoise(model, cfg, img, level, int(seed))
            show_grid(np.concatenate([img, r["noisy"], r["clean"]]), nrow=3, scale=6,
                      caption=f"clean · noisy (error {r['err_noisy'][0]:.1f}) · "
                              f"cleaned (error {r['err_clean'][0]:.1f})")
            st.caption("Error = squared difference from the clean image, summed over the 784 pixels. Uploads are "
                       "converted to 28×28 grayscale, light backgrounds inverted to MNIST's white-on-black.")

# ---- anomaly detection -------------------------------------------------------------------------------
with tab_a:
    st.markdown("**Anomaly detection.** Train on every digit except one: the left-out digit is the anomaly. A model "
                "rebuilds what it has seen well, so a high reconstruction error (or a low ELBO) flags the unusual.")
    digit = st.selectbox("Digit left out of training (the anomaly)", list(range(10)), index=2, key="an_digit")
    specs = anomaly_specs(size, int(digit))
    if ensure_runs(specs, f"app_anomaly_{digit}", f"an AE and a VAE without {digit}s"):
        reports = anomaly_reports(specs["ae"].run_id(), specs["vae"].run_id(), int(digit))
        cols = st.columns(len(reports))
        for c, (k, r) in zip(cols, reports.items(), strict=False):
            c.metric(f"AUC · {k}", f"{r['auc']:.3f}", help="1 = every anomaly scores above every normal digit; "
                                                            "0.5 = no better than chance")
        a, b = st.columns(2)
        with a:
            show_chart(roc_chart, reports)
        with b:
            which = st.selectbox("Score", list(reports), key="an_score")
            show_chart(anomaly_histogram, reports[which], "score", f"anomaly ({digit})", "normal",
                       f"{which}: normal vs anomalous digits")
        r = reports[which]
        show_grid(r["top"], f"The 16 most anomalous held-out digits by {which} (labels: "
                            f"{', '.join(map(str, r['top_labels']))}; {r['precision_at_top']:.0%} are {digit}s)",
                  nrow=8, scale=3)

# ---- generation --------------------------------------------------------------------------------------
with tab_g:
    st.markdown("**Generation.** A VAE's decoder turns any point of the prior N(0, I) into a digit; walking in a "
                "straight line between two digits' codes morphs one into the other.")
    gen = epochs_specs(size)
    if ensure_runs(gen, "app_generate", "the lecture's VAE"):
        cfg, model = load_model(gen["vae"].run_id())
        a, b = st.columns(2)
        seed = a.number_input("Seed", 0, 10_000, 0, key="gen_seed")
        temp = b.slider("Temperature (std of z)", 0.1, 2.0, 1.0, 0.1, key="gen_temp",
                        help="Below 1: safer, more average digits; above 1: more varied and more broken ones.")
        show_grid(sample(model, cfg, 32, int(seed), temp), "32 samples z ~ N(0, T²·I), decoded", nrow=8)
        a, b, c = st.columns(3)
        da = a.selectbox("From digit", list(range(10)), index=3, key="gen_a")
        db = b.selectbox("To digit", list(range(10)), index=8, key="gen_b")
        k = c.number_input("Example #", 0, 50, 0, key="gen_k")
        walk = interpolate(model, cfg, example(da, int(k)), example(db, int(k)), steps=10)
        show_grid(walk["latent"], "through the latent space: every step is a digit", nrow=10, scale=3)
        show_grid(walk["pixels"], "through pixel space (a cross-fade), for contrast", nrow=10, scale=3)
