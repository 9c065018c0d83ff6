"""Latent space: where the encoder puts held-out digits; click anywhere to decode; the prior and the posteriors'
σ-ellipses (VAE); the closed-form KL per dimension; your own drawing; AE vs VAE interpolation; traversals."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st
import torch

from engine.teaching import formulas as fm
from engine.teaching.latent import (
    active_dims,
    decode_plane,
    plane_range,
    project_2d,
    square,
    sweep,
    traverse,
    widest_dim,
)
from engine.teaching.posterior import ellipse, prior_contours
from ui.backend import store
from ui.draw.charts import bar_chart
from ui.draw.images import show_grid, show_shared_grid
from ui.draw.vega import show_chart
from ui.heldout import heldout_errors, heldout_images, posteriors
from ui.latent.canvas import digit_report, draw_digit, drawn_code_layers, model_input
from ui.latent.interpolation import interpolation_panel
from ui.latent_map.explorer import View, draw_view, hold, map_view, pinned_caption, sweep_view
from ui.latent_map.layers import ellipse_layer, latent_map_chart, prior_layer
from ui.latent_map.pick import pick_point, show_decoded
from ui.pickers import run_and_config, snapshot_epoch_slider
from ui.runs import checkpoint_mtime, class_names, kl_per_dim, model_or_error, snapshot

st.title("Latent space")
st.caption("Every held-out digit is encoded to a code z (for a VAE: the mean μ), drawn on a 2-D map and coloured by "
           "the true digit — the model never saw the labels. **Move the mouse over the map**: the decoder draws each "
           "point, in your browser; a click pins it.")

rid, cfg = run_and_config(key="lat_run")
epochs = store().snapshot_epochs(rid)
epoch = snapshot_epoch_slider(rid, key=f"lat_epoch_{rid}", label="Epoch of the map")  # latest for each run
snap = snapshot(rid, epoch) if epoch else None
if snap is None:
    st.stop()

classes = class_names(cfg.dataset)
codes, labels = snap["latent"].float(), snap["labels"]
k = codes.shape[1]
proj = project_2d(codes)
xr, yr = square(*plane_range(proj["xy"], cfg.variational))
kind = "VAE" if cfg.variational else "AE"
how = ("a 2-D latent, drawn directly" if k == 2 else "a 1-D latent (y is 0)" if k == 1 else
       f"a {k}-D latent, projected on its first two principal components (PCA)")
st.markdown(f"**{cfg.arch.upper()} {kind}, {how}; {len(codes)} held-out digits after epoch {epoch}.**")
model = model_or_error(rid)
real = heldout_images(cfg.dataset, len(codes))
post = posteriors(rid, cfg.dataset, len(codes)) if model is not None and cfg.variational else None
logvar = post[1] if post else None
latest = epochs[-1] if epochs else epoch
held = hold(model, proj, real) if model is not None else None  # None: the server decodes (too big, or no model)


def map_layers() -> list:
    """Below the points: the prior's contours and some posteriors' σ-ellipses (a VAE with a latent ≥ 2-D)."""
    if logvar is None or k < 2 or not st.session_state.get("lat_prior", True):
        return []
    n = st.session_state.get("lat_n_ell", 30)
    curves = [ellipse(proj, post[0][i], logvar[i], n_points=32).numpy() for i in range(min(n, len(logvar)))]
    names = [classes[int(v)] if classes else str(int(v)) for v in labels[: len(curves)]]
    layers = [prior_layer([r.numpy() for r in prior_contours(proj)], (xr, yr))]
    return layers + ([ellipse_layer(curves, names, (xr, yr), classes)] if curves else [])


def browser_view(**changes) -> View:
    """The map as the browser draws it (the prior's circles and σ-ellipses as the toggles say)."""
    on = logvar is not None and k >= 2 and st.session_state.get("lat_prior", True)
    return replace(View(proj, labels, classes, (xr, yr), logvar, post[0] if post else None,
                        st.session_state.get("lat_n_ell", 30) if on else 0, prior_contours(proj) if on else None),
                   **changes)


def ellipse_controls() -> None:
    if cfg.variational and k >= 2 and logvar is not None:
        c1, c2 = st.columns(2)
        c1.toggle("Prior and σ-ellipses", True, key="lat_prior",
                  help="Dashed: the 1σ, 2σ, 3σ circles of the prior. Coloured: the 1σ ellipse of q(z|x) of the "
                       "first held-out digits.")
        c2.slider("σ-ellipses of how many digits", 0, 300, 30, 10, key="lat_n_ell")


def sigma_caption(shown: bool) -> None:
    if shown:
        sigma = float(torch.exp(0.5 * logvar).mean())
        st.caption(f"Mean posterior σ = **{sigma:.2f}**" + (
            " — the ellipses overlap and tile the prior's disc: no holes to fall into." if sigma > 0.3 else
            " — small ellipses: the posterior is nearly a point and the VAE behaves almost like an AE (σ → 0 "
            "makes it one). Raise β to see them grow.")
            + ("" if k == 2 else f" With a {k}-D latent the ellipses are the exact shadows of each Gaussian on "
               "the PCA plane, and the prior's shadow is still a unit circle."))
    elif cfg.variational and k == 1:
        st.caption("A 1-D latent: no ellipses (the map is a line).")


def decoder_grid() -> None:
    if k > 1:
        n = st.slider("Decoder grid size", 6, 20, 12, key="lat_n",
                      help="How many points per side of the map are decoded. More = finer picture, slower.")
        key = ("decoder", str(store().root), rid, checkpoint_mtime(rid), epoch, n)  # alike for every session
        show_shared_grid(key, lambda: decode_plane(model, proj, xr, yr, n), nrow=n, scale=1 if n > 14 else 2,
                         caption=f"the decoder (epoch {latest}) on a {n}×{n} grid over the map's area")
        if latest != epoch:
            st.caption(f"Only the latest weights are kept: the decoder is epoch {latest}, the map epoch {epoch}.")


@st.fragment
def the_map() -> None:
    """The map and what the decoder draws there (a fragment: a click reruns only this part). In the browser when
    the model runs there (hover decodes, a click pins); else the server's click-to-decode."""
    default = (0.0, 0.0) if cfg.variational else (sum(xr) / 2, sum(yr) / 2)
    if held is not None:
        ellipse_controls()
        view = browser_view()
        st.caption(pinned_caption(map_view("lat_map", held, view, default), view))
        sigma_caption(view.n_ellipses > 0 or view.prior is not None)
        decoder_grid()
        return
    left, right = st.columns([3, 2])
    with left:
        ellipse_controls()
        below = map_layers()
        chart = (lambda above: latent_map_chart(proj["xy"], labels, proj["axes"], classes, (xr, yr), below=below,
                                                above=above, height=470))
        point = pick_point("lat_map", chart, (xr, yr), proj["axes"], default=default)
        sigma_caption(bool(below))
    with right:
        if model is None:
            return
        show_decoded(model, proj, point, codes, labels, classes, real, proj["axes"])
        decoder_grid()


the_map()
if cfg.variational:
    st.info("**VAE:** the KL term pulls every posterior toward N(0, I), so in a well-trained VAE the clusters sit in "
            "one round cloud inside the prior's circles, with no big holes: point between clusters and the decoder "
            "still draws a digit-like shape a few spacings from a real digit. A short or small run may not be there "
            "yet — the distance above says where you are.")
else:
    st.info("**AE:** nothing but reconstruction shapes this space. The clusters can be anywhere, stretched or far "
            "apart, and the decoder was never trained on the **empty space** between them — point there: smudges "
            "and non-digits, many times the typical spacing from any real digit.")

# ---- which dimensions are used: the closed-form KL ---------------------------------------------------
if cfg.variational and (kd := kl_per_dim(rid)):
    st.subheader("Which latent dimensions carry information")
    bars, maths = st.columns([3, 2])
    with bars:
        show_chart(bar_chart, kd, "KL per image (nats)", [f"z{i + 1}" for i in range(len(kd))],
                   x_title="latent dimension")
    with maths:
        st.latex(fm.kl_closed_form())
        st.latex(fm.kl_sum(kd))
        if post is not None:
            j = max(range(len(kd)), key=lambda i: kd[i])
            st.caption(f"One term: held-out digit #0 in z{j + 1}, the busiest dimension:")
            st.latex(fm.kl_one_dim(float(post[0][0, j]), float(torch.exp(0.5 * post[1][0, j]))))
    st.caption(f"{active_dims(kd)} of {len(kd)} dimensions have KL > 0.1 nats (held-out average). A dimension with "
               "KL ≈ 0 has μ ≈ 0 and σ ≈ 1 for every digit: it stays at the prior and the decoder ignores it. The VAE "
               "switches dimensions off when their information is not worth the KL price — raise β to see it.")

# ---- your own digit ----------------------------------------------------------------------------------------------
st.subheader("Draw your own digit")


@st.fragment
def drawing() -> None:
    """The canvas and what the model makes of the drawing (a fragment: each stroke reruns only this part)."""
    a, b, c = st.columns([2, 2, 3])
    with a:
        st.caption("Draw with the mouse (the bin icon clears). It is cropped, scaled into 20×20 and centred by "
                   "its centre of mass in 28×28, as MNIST's digits were.")
        x = draw_digit("lat_canvas")
    if x is None or model is None or real is None:
        with b:
            st.info("Draw a digit on the black canvas: its reconstruction, its place on the map and its anomaly "
                    "score appear here.")
        return
    x = model_input(x, tuple(real.shape[1:]))
    with b:
        digit_report(model, x, heldout_errors(rid, cfg.dataset, len(codes)))
    with c:
        layers, text = drawn_code_layers(model, x, proj, (xr, yr))
        st.vega_lite_chart(latent_map_chart(proj["xy"], labels, proj["axes"], classes, (xr, yr), clickable=False,
                                            above=layers, height=300, legend=False), width="content")
        st.caption(text)


if held is not None:
    st.caption("Draw with the mouse: on every stroke your browser crops the drawing, scales it into 20×20, centres it "
               "by its centre of mass in 28×28 (as MNIST's digits were) and runs the encoder.")
    draw_view("lat_draw", held, browser_view(n_ellipses=0, prior=None,
                                             errors=heldout_errors(rid, cfg.dataset, len(codes))))
else:
    drawing()

# ---- interpolation -----------------------------------------------------------------------------------------------
st.subheader("Interpolate between two digits: AE vs VAE")
st.caption("The straight line between two digits' codes, decoded in 10 steps. In an AE the line crosses empty "
           "space; in a VAE it stays inside the prior, where the decoder was trained.")
interpolation_panel("lat_ip")

# ---- traversal ---------------------------------------------------------------------------------------------------
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
elif model is not None:
    values = sweep(codes, int(idx), dim, width)
    lab = int(labels[int(idx)])
    name = classes[lab] if classes and lab < len(classes) else str(lab)
    text = (f"z{dim + 1} from {values[0]:.2f} to {values[-1]:.2f} (middle image: the code of held-out #{idx}, a "
            f"'{name}'; the others change only z{dim + 1})")
    if held is not None:
        sweep_view("lat_sweep", held, codes[int(idx)], dim, values, text)
    else:
        show_grid(traverse(model, codes[int(idx)], dim, values), text, nrow=11)
    st.caption("If the images morph smoothly (thicker, slanted, into another digit), this dimension encodes a "
               "meaningful feature. If nothing changes, the decoder ignores it.")
