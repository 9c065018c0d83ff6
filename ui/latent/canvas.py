"""Draw your own digit: a mouse canvas, the drawing made MNIST-like, the model's reconstruction, where its code
lands on the latent map (μ and, for a VAE, its σ-ellipse) and how unusual the model finds it.

    x = draw_digit(key)                       the canvas; an MNIST-like (1, 1, 28, 28) image, or None
    digit_report(model, x, ...)               reconstruction, anomaly score and percentile
    drawn_code_layers(model, x, proj, domain) the map layers of the drawing's code (marker, ellipse)
"""

from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from engine.core.models import Autoencoder
from engine.teaching.drawing import fit_shape, percentile, recon_error, to_mnist, verdict
from engine.teaching.latent import to_plane
from engine.teaching.posterior import ellipse, posterior_params

from ..draw.charts import marked_histogram
from ..draw.images import show_grid
from ..draw.vega import show_chart
from ..latent_map.layers import Domain, Spec, curve_layer, marker_layer

CANVAS = 252  # pixels: 9× an MNIST digit
DRAWN = "#d62728"


def draw_digit(key: str) -> torch.Tensor | None:
    """A 252×252 canvas (white ink on black, like MNIST); the drawing as an MNIST-like image, None if empty."""
    from streamlit_drawable_canvas import st_canvas  # a custom component: loaded only where it is drawn

    result = st_canvas(stroke_width=22, stroke_color="#ffffff", background_color="#000000", height=CANVAS,
                       width=CANVAS, drawing_mode="freedraw", return_image_data=True, key=key)
    try:
        picture = result.image_data
    except Exception:  # noqa: BLE001 - a component that did not answer (e.g. headless tests): nothing drawn
        picture = None
    return to_mnist(None if picture is None else np.asarray(picture))


def model_input(x: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """The drawing resized to the model's input shape (C, H, W)."""
    return fit_shape(x, tuple(shape))


def digit_report(model: Autoencoder, x: torch.Tensor, heldout_errors: torch.Tensor | None) -> None:
    """The drawing as the model sees it, its reconstruction, and its anomaly score against held-out digits."""
    recon = model.reconstruct(x).cpu()
    show_grid(torch.cat([x.cpu(), recon]), "your digit (28×28, centred like MNIST) · its reconstruction", nrow=2,
              scale=4)
    score = float(recon_error(model, x)[0])
    st.metric("anomaly score (squared pixel error)", f"{score:.1f}",
              help="The squared pixel error of the reconstruction, summed over the pixels (pixels in [0, 1]).")
    if heldout_errors is None or not len(heldout_errors):
        return
    pct = percentile(score, heldout_errors)
    st.metric("percentile among held-out digits", f"{pct:.0f}%",
              help="The share of real held-out digits whose reconstruction error is at most yours.")
    st.caption(f"Reconstructed worse than {pct:.0f}% of {len(heldout_errors):,} held-out digits: {verdict(pct)}. "
               "A model can only rebuild what it has learned to encode — draw a letter or a smiley to see the "
               "score jump.")
    show_chart(marked_histogram, heldout_errors.tolist(), score, "reconstruction error", "your digit")


def drawn_code_layers(model: Autoencoder, x: torch.Tensor, proj: dict,
                      domain: Domain) -> tuple[list[Spec], str]:
    """Map layers showing where the drawing's code lands: μ (a diamond) and, for a VAE, its 1σ and 2σ ellipses;
    and one sentence saying where that is."""
    mu, logvar = posterior_params(model, x)
    xy = to_plane(proj, mu)[0]
    layers: list = [marker_layer(float(xy[0]), float(xy[1]), "your digit", domain, DRAWN, "diamond")]
    if logvar is not None:
        for n_std in (1.0, 2.0):
            e = ellipse(proj, mu[0], logvar[0], n_std)
            if e is not None:
                layers.insert(0, curve_layer(e.numpy(), domain, DRAWN, dash=n_std > 1))
        sigma = float(torch.exp(0.5 * logvar).mean())
        text = (f"Its posterior: μ at ({xy[0]:.2f}, {xy[1]:.2f}) on the map, mean σ = {sigma:.2f}. The red rings are "
                "the 1σ and 2σ ellipses of q(z|x): every z inside is a plausible code for your drawing.")
    else:
        text = f"Its code lands at ({xy[0]:.2f}, {xy[1]:.2f}) on the map: an AE gives one point, no spread."
    return layers, text

