"""Latent space: where the encoder puts held-out digits, what the decoder makes of the whole plane, traversals."""

from __future__ import annotations

import streamlit as st

from engine.teaching.latent import (
    active_dims,
    decode_plane,
    plane_range,
    project_2d,
    sweep,
    traverse,
    widest_dim,
)
from ui.backend import store
from ui.charts import bar_chart, latent_scatter
from ui.images import show_grid
from ui.pickers import run_and_config, snapshot_epoch_slider
from ui.runs import class_names, kl_per_dim, model_or_error, snapshot

st.title("Latent space")
st.caption("Every held-out digit is encoded to a code z (for a VAE: the mean μ). Left: those codes on a 2-D map, "
           "coloured by the true digit — the model never saw the labels. Right: what the decoder draws at each point "
           "of the same map.")

rid, cfg = run_and_config(key="lat_run")
epochs = store().snapshot_epochs(rid)
epoch = snapshot_epoch_slider(rid, key="lat_epoch", label="Epoch of the map")
snap = snapshot(rid, epoch) if epoch else None
if snap is None:
    st.stop()

classes = class_names(cfg.dataset)

codes, labels = snap["latent"].float(), snap["labels"]
k = codes.shape[1]
proj = project_2d(codes)
xr, yr = plane_range(proj["xy"], cfg.variational)
kind = "VAE" if cfg.variational else "AE"
how = ("a 2-D latent, drawn directly" if k == 2 else "a 1-D latent (y is 0)" if k == 1 else
       f"a {k}-D latent, projected on its first two principal components (PCA)")
st.markdown(f"**{cfg.arch.upper()} {kind}, {how}; {len(codes)} held-out digits after epoch {epoch}.**")

left, right = st.columns(2)
with left:
    st.altair_chart(latent_scatter(proj["xy"], labels, proj["axes"], classes, domain=(xr, yr)), width="stretch")
    st.caption("Hover a point for its digit and coordinates; click a legend entry to highlight one digit.")
with right:
    n = st.slider("Decoder grid size", 6, 20, 12, key="lat_n",
                  help="How many points per side of the map are decoded. More = finer picture, slower.")
    if k == 1:
        st.info("With a 1-D latent the map is a line: see the traversal below.")
    else:
        model = model_or_error(rid)
        if model is not None:
            latest = epochs[-1] if epochs else epoch
            show_grid(decode_plane(model, proj, xr, yr, n), nrow=n, scale=1 if n > 14 else 2,
                      caption=f"the decoder (epoch {latest}) at a {n}×{n} grid over the map's area "
                              f"({proj['axes'][0]} → right, {proj['axes'][1]} → up)")
            if latest != epoch:
                st.caption(f"Only the latest weights are kept, so this grid uses epoch {latest}, while the map "
                           f"shows epoch {epoch}.")

if cfg.variational:
    st.info("**VAE:** the KL term pulls every code toward N(0, I), so the clusters sit in one round cloud around 0 "
            "with no big holes — almost every point of the grid decodes to a digit-like shape, and neighbouring "
            "points morph smoothly. That is why random z give plausible samples.")
else:
    st.info("**AE:** nothing but reconstruction shapes this space. The clusters can be anywhere, stretched or far "
            "apart, and the decoder was never trained on the **empty space** between them — look for smudges and "
            "non-digits in the grid where the map has no points.")

# ---- which dimensions are used -------------------------------------------------------------------
if cfg.variational:
    kd = kl_per_dim(rid)
    if kd:
        st.subheader("Which latent dimensions carry information")
        st.altair_chart(bar_chart(kd, "KL per image (nats)", [f"z{i + 1}" for i in range(len(kd))],
                                  x_title="latent dimension"), width="stretch")
        st.caption(f"{active_dims(kd)} of {len(kd)} dimensions have KL > 0.1 (they carry information about the image). "
                   "A dimension with KL ≈ 0 stays at the prior N(0, 1) and is ignored by the decoder: the VAE switches "
                   "dimensions off when the information is not worth its KL price — try a larger β to see it.")

# ---- traversal -----------------------------------------------------------------------------------
st.subheader("Latent traversal: change one number of the code")
t1, t2, t3 = st.columns(3)
dim = t1.selectbox("Dimension", list(range(k)), index=widest_dim(codes), key="lat_dim",
                   format_func=lambda d: f"z{d + 1}",
                   help="Which coordinate of the code to sweep while the others stay fixed.")
idx = t2.number_input("Start from held-out digit #", value=0, step=1, key="lat_idx",
                      help=f"Which held-out image's code to start from (0–{len(codes) - 1}).")
width = t3.slider("Sweep (± standard deviations)", 0.5, 5.0, 3.0, 0.5, key="lat_width",
                  help="How far to move the coordinate, in units of its spread over the held-out codes.")
if not (0 <= idx < len(codes)):
    st.error(f"The held-out digit number must be between 0 and {len(codes) - 1}, got {idx}.")
else:
    model = model_or_error(rid)
    if model is not None:
        values = sweep(codes, int(idx), dim, width)
        row = traverse(model, codes[int(idx)], dim, values)
        lab = int(labels[int(idx)])
        name = classes[lab] if classes and lab < len(classes) else str(lab)
        show_grid(row, f"z{dim + 1} from {values[0]:.2f} to {values[-1]:.2f} (middle image: the code of held-out "
                       f"#{idx}, a '{name}'; the others change only z{dim + 1})", nrow=11)
        st.caption("If the images morph smoothly (thicker, slanted, into another digit), this dimension encodes a "
                   "meaningful feature. If nothing changes, the decoder ignores it.")
