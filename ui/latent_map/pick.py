"""The latent map under the student's hand: click anywhere on the map (or move two sliders) and the decoder
draws that point at once, beside the nearest real held-out digit and how far away it is.

    point = pick_point(key, chart_fn, domain)        the map + sliders; returns the chosen (x, y)
    show_decoded(model, proj, point, codes, ...)     the decoded image, the nearest held-out digit, the distance

The map is drawn with Streamlit's native chart selections: an invisible grid of cells under the points makes
any location clickable, and a click on a point picks that digit's code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import streamlit as st
import torch

from engine.core.models import Autoencoder
from engine.teaching.latent import from_plane, nearest, to_plane, typical_spacing

from ..draw.images import show_grid
from .layers import PICK, PICK_POINT, Domain, Spec, marker_layer

SLIDER_STEPS = 200
# Where a point is, from its distance to the nearest digit in units of the typical spacing: (below this ratio,
# these words); None: beyond the last. The browser's map (explorer.py) says the same.
WHERE = ((2.0, "among the data"), (4.0, "at the edge of the data"), (None, "in a hole: no held-out digit is near"))


def state_keys(key: str) -> tuple[str, str, str]:
    """The session keys of a map's chosen point (x, y) and of the last selection seen."""
    return f"{key}_x", f"{key}_y", f"{key}_seen"


def where(ratio: float) -> str:
    """Where a point is, in words (WHERE)."""
    return next(words for limit, words in WHERE if limit is None or ratio < limit)


def _on_select(key: str) -> None:
    """Chart callback (runs before the script): a new click moves the sliders to the clicked location."""
    kx, ky, seen = state_keys(key)
    state = st.session_state.get(key) or {}
    selection = dict(state.get("selection") or {})
    last = st.session_state.get(seen, {})
    for name, fx, fy in ((PICK, "gx", "gy"), (PICK_POINT, "x", "y")):
        value = selection.get(name) or []
        if value and value != last.get(name) and fx in value[0] and fy in value[0]:
            st.session_state[kx], st.session_state[ky] = float(value[0][fx]), float(value[0][fy])
    st.session_state[seen] = {name: selection.get(name) for name in (PICK, PICK_POINT)}


def _clamp(v: float, lo: float, hi: float) -> float:
    return min(max(float(v), lo), hi)


def current_point(key: str, domain: Domain, default: tuple[float, float] = (0.0, 0.0)) -> tuple[float, float]:
    """The chosen location, kept inside `domain` (a new run or epoch can shrink the map)."""
    kx, ky, _ = state_keys(key)
    (x0, x1), (y0, y1) = domain
    for k, v, lo, hi in ((kx, default[0], x0, x1), (ky, default[1], y0, y1)):
        st.session_state[k] = _clamp(st.session_state.get(k, v), lo, hi)
    return st.session_state[kx], st.session_state[ky]


def pick_point(key: str, chart: Callable[[Sequence[Spec]], Spec], domain: Domain,
               axes: Sequence[str], default: tuple[float, float] = (0.0, 0.0)) -> tuple[float, float]:
    """Draw the clickable map (`chart(above)` must build it with `clickable=True`, `above` being the marker
    layers to put on top) and two sliders under it; return the chosen location (x, y).

    A click on the map or on a point selects it (callback → the sliders move there); the sliders fine-tune."""
    x, y = current_point(key, domain, default)
    marker = marker_layer(x, y, "decoded here", domain)
    st.vega_lite_chart(chart([marker]), on_select=lambda: _on_select(key), selection_mode=[PICK, PICK_POINT],
                       key=key, width="content")
    kx, ky, _ = state_keys(key)
    (x0, x1), (y0, y1) = domain
    c1, c2 = st.columns(2)
    c1.slider(axes[0], x0, x1, key=kx, step=(x1 - x0) / SLIDER_STEPS, format="%.2f",
              help="Move the cross left/right; the decoded image follows.")
    c2.slider(axes[1], y0, y1, key=ky, step=(y1 - y0) / SLIDER_STEPS, format="%.2f",
              help="Move the cross down/up; the decoded image follows.")
    return st.session_state[kx], st.session_state[ky]


def show_decoded(model: Autoencoder, proj: dict, point: tuple[float, float], codes: torch.Tensor, labels: torch.Tensor,
                 classes: Sequence[str] | None, heldout_x: torch.Tensor | None, axes: Sequence[str]) -> None:
    """The decoder's image at `point`, and the nearest held-out digit on the map with its distance measured
    against the typical spacing of neighbouring digits (in a hole or among the data?)."""
    z = from_plane(proj, torch.tensor([point]))
    img = model.generate(z).cpu()
    xy = to_plane(proj, codes)
    i, d_map = nearest(xy, torch.tensor(point))
    spacing = typical_spacing(xy)
    lab = int(labels[i])
    name = classes[lab] if classes is not None and lab < len(classes) else str(lab)
    kind = f", a '{name}'" if classes is None or len(classes) > 1 else ""  # an unlabelled upload has one class
    a, b = st.columns(2)
    with a:
        show_grid(img, f"decoded at ({point[0]:.2f}, {point[1]:.2f})", nrow=1, scale=5)
    with b:
        if heldout_x is not None and i < len(heldout_x):
            show_grid(heldout_x[i:i + 1], f"nearest held-out image: #{i}{kind}", nrow=1, scale=5)
        else:
            st.caption(f"The nearest held-out code is #{i}{kind} (its image could not be loaded).")
    ratio = d_map / spacing if spacing > 0 else float("nan")
    st.markdown(f"Distance on the map to the nearest digit: **{d_map:.2f}** = {ratio:.1f}× the typical spacing "
                f"between neighbouring digits ({spacing:.2f}) — **{where(ratio)}**.")
    k = proj["mean"].numel()
    if k > 2:
        full = float((codes[i].float() - z[0]).norm())
        st.caption(f"The map is a {k}-D latent seen along {axes[0].split(' (')[0]} and {axes[1].split(' (')[0]}: "
                   f"the point decoded is the mean code + x·PC1 + y·PC2, on that plane. In all {k} dimensions it "
                   f"is {full:.2f} from that digit's code, which sits off the plane.")
