"""The latent space at the speed of the hand: one Streamlit v2 component (`st.components.v2.component`, inline
HTML/CSS/JS, no iframe, nothing from a CDN) that runs the run's decoder and encoder in the student's browser.

    held = hold(model, proj, images)                    the weights and held-out digits, once per model per session
    point = map_view(key, held, view, default)          hover decodes (every animation frame), a click commits
    draw_view(key, held, view)                          draw a digit: its code and σ-ellipse move on every stroke
    sweep_view(key, held, base, dim, values, caption)   traversal, dragged
    path_view(key, held, view, za, zb, ends)            interpolation, dragged

`hold` mounts the component once with the exported weights (engine.core.webmodel.export, with the map's PCA
projection) and the held-out digits as uint8: one bytes `data`, so Streamlit's message cache answers every later
rerun with a reference and the weights cross the websocket once. The views carry only their small data and name
what they need. Above the size cap (`fits` false) `hold` says so in one line and returns None: the callers then
draw the server's click-to-decode (ui/latent_map/pick.py), as before.

The browser code: explorer.js (the component, the map view), views.js (draw, sweep, path), drawing.js (the drawing
made MNIST-like, as engine/teaching/drawing.py does it) and nn.js (the kernels); the component's JS is explorer.js
with the other three as source strings it imports as modules (a v2 component's JS is one module from a blob URL).
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
import weakref
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import streamlit as st
import torch
from streamlit.errors import StreamlitDuplicateElementKey

from engine.core.models import Autoencoder
from engine.teaching.drawing import VERDICTS
from engine.teaching.latent import nearest, typical_spacing
from engine.teaching.posterior import ellipse

from ..draw.images import shared
from .layers import Domain
from .pick import WHERE, current_point, state_keys, where

HERE = Path(__file__).resolve().parent
NAME = "ae_lab.latent_explorer"
MODULES = {"nn": "nn.js", "drawing": "drawing.js", "views": "views.js"}
_EXPORTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> {projection key: (name, payload)}


@dataclass
class Held:
    """What `hold` sent: the registry name the views refer to, and what the views need to know of the model."""

    name: str
    latent: int
    variational: bool


@dataclass
class View:
    """One map's data: the held-out codes on the plane (proj from engine.teaching.latent.project_2d), the labels
    and class names, the square domain, and for a VAE its posteriors (σ-ellipses of the first `n_ellipses`)."""

    proj: dict
    labels: torch.Tensor
    classes: list[str] | None
    domain: Domain
    logvar: torch.Tensor | None = None
    mu: torch.Tensor | None = None
    n_ellipses: int = 0
    prior: list | None = None  # the prior's contours on the plane (posterior.prior_contours), VAE only
    errors: torch.Tensor | None = None  # held-out reconstruction errors (the drawing's anomaly percentile)


@cache
def _component():
    js = (f"const SOURCES = {json.dumps({k: (HERE / v).read_text() for k, v in MODULES.items()})};\n"
          + (HERE / "explorer.js").read_text())
    return st.components.v2.component(NAME, html="", css=(HERE / "explorer.css").read_text(), js=js)


def pack(meta: dict, arrays: dict[str, np.ndarray | bytes] | None = None) -> bytes:
    """One envelope: 8 bytes (little-endian length n), n bytes of JSON (`meta` and an index of the arrays), then
    the arrays little-endian, each at an 8-aligned offset (explorer.js `unpack` reads it)."""
    index, parts, pos = {}, [], 0
    for name, a in (arrays or {}).items():
        if isinstance(a, bytes | bytearray):
            raw, dtype = bytes(a), "bytes"
        else:
            a = np.ascontiguousarray(a)
            dtype = {np.float32: "f4", np.uint8: "u1", np.int32: "i4"}[a.dtype.type]
            raw = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        index[name] = {"dtype": dtype, "offset": pos, "length": len(raw)}
        parts.append(raw + b"\0" * (-len(raw) % 8))
        pos += len(raw) + (-len(raw) % 8)
    head = json.dumps({**meta, "arrays": index}).encode()
    head += b" " * (-len(head) % 8)
    return struct.pack("<Q", len(head)) + head + b"".join(parts)


def _f32(t: torch.Tensor) -> np.ndarray:
    return t.detach().float().cpu().numpy().astype(np.float32)


def _rounded(curve: torch.Tensor) -> list:
    """A curve's points for the JSON, to 4 decimals (a map's pixel is ~0.02 wide)."""
    return np.round(curve.detach().float().cpu().numpy(), 4).tolist()


def _export(model: Autoencoder, proj: dict, images: torch.Tensor) -> tuple[str, bytes, int] | None:
    """(registry name, holder payload, weight bytes) for the model with this map's projection, cached per model;
    None above the size cap or for a model the browser kernels cannot run."""
    from engine.core.webmodel import WebExportError, export, fits

    plane = (_f32(proj["mean"]).tobytes(), _f32(proj["basis"]).tobytes(), images.data_ptr(), tuple(images.shape))
    per_model = _EXPORTS.setdefault(model, {})
    if plane not in per_model:
        try:
            weights = export(model, projection=(proj["mean"], proj["basis"])) if fits(model) else None
        except WebExportError:
            weights = None
        if weights is None:
            per_model[plane] = None
        else:
            pixels = (images.float().clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
            name = "m" + hashlib.sha1(weights + pixels.tobytes()).hexdigest()[:16]
            per_model[plane] = (name, pack({"mode": "hold", "name": name},
                                           {"model": weights, "heldout": pixels}), len(weights))
    return per_model[plane]


def hold(model: Autoencoder, proj: dict, images: torch.Tensor | None, note: bool = True) -> Held | None:
    """Send the model (with the map's projection) and the held-out images to the browser; None (and one line
    saying why) when it cannot run there, so the caller draws the server's path instead. `note`: say in one line
    what runs in the browser (once on a page is enough)."""
    if images is None:
        return None
    got = _export(model, proj, images)
    if got is None:
        st.caption("This model is too large (or of a kind) for the browser: the server decodes each click instead.")
        return None
    name, payload, size = got
    try:
        _component()(key=f"ael_hold_{name}", data=payload, height="content")
    except StreamlitDuplicateElementKey:
        pass  # already held in this script run (e.g. the page's run also picked for the interpolation)
    if note:
        st.caption(f"In your browser: this run's decoder and encoder ({size / 1e6:.1f} MB of weights) and "
                   f"{len(images):,} held-out images, sent once; hovering and drawing cost the server nothing.")
    return Held(name, int(model.latent_dim), bool(model.variational))


def _plane(proj: dict) -> tuple[bytes, bytes]:
    return _f32(proj["mean"]).tobytes(), _f32(proj["basis"]).tobytes()


def _spacing(view: View) -> float:
    xy = view.proj["xy"]
    return shared(("spacing", _plane(view.proj), tuple(xy.shape)), lambda: typical_spacing(xy))


def _ellipses(view: View) -> list:
    curves = [ellipse(view.proj, view.mu[i], view.logvar[i], n_points=32)
              for i in range(min(view.n_ellipses, len(view.logvar)))]
    return [_rounded(c) for c in curves if c is not None]


def _map_meta(view: View, held: Held, **extra) -> tuple[dict, dict]:
    xy = view.proj["xy"]
    meta = {"model": held.name, "domain": [list(map(float, r)) for r in view.domain], "axes": list(view.proj["axes"]),
            "classes": view.classes, "one_class": bool(view.classes is not None and len(view.classes) < 2),
            "prior": [_rounded(c) for c in (view.prior or [])],
            "plane": {"mean": view.proj["mean"].tolist(), "basis": view.proj["basis"].tolist()}, **extra}
    if view.logvar is not None and view.mu is not None and view.n_ellipses:
        meta["ellipses"] = shared(("ellipses", held.name, _plane(view.proj), view.n_ellipses),
                                  lambda: _ellipses(view))
        meta["ellipse_labels"] = [int(v) for v in view.labels[: len(meta["ellipses"])]]
    arrays = {"xy": _f32(xy).reshape(-1), "labels": view.labels.to(torch.uint8).cpu().numpy()}
    if view.errors is not None:
        arrays["errors"] = _f32(view.errors).reshape(-1)
    return meta, arrays


def clicked_point(state) -> tuple[float, float] | None:
    """The point a click sent ({"point": {"x": .., "y": ..}} from the browser), or None for anything else: what a
    browser sends is checked like any input (finite numbers only; the page then keeps it inside the map)."""
    point = state.get("point") if isinstance(state, dict) else None
    if not isinstance(point, dict):
        return None
    x, y = point.get("x"), point.get("y")
    ok = all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in (x, y))
    return (float(x), float(y)) if ok else None


def _on_point(key: str, ckey: str) -> None:
    """The component's callback (before the script runs): a click's point becomes the page's chosen point."""
    point = clicked_point(dict(st.session_state.get(ckey) or {}))
    if point is not None:
        kx, ky, _ = state_keys(key)
        st.session_state[kx], st.session_state[ky] = point


def map_view(key: str, held: Held, view: View, default: tuple[float, float] = (0.0, 0.0)) -> tuple[float, float]:
    """The map in the browser: hovering decodes each point beside the nearest held-out digit; a click commits the
    point (the only message to the server). Returns the committed point, kept inside the domain."""
    point = current_point(key, view.domain, default)
    meta, arrays = _map_meta(view, held, mode="map", pinned=list(point), spacing=_spacing(view),
                             where=[[lim, words] for lim, words in WHERE])
    ckey = f"{key}_browser"
    _component()(key=ckey, data=pack(meta, arrays), on_point_change=lambda: _on_point(key, ckey), height="content")
    return point


def pinned_caption(point: tuple[float, float], view: View) -> str:
    """One line about the committed point, computed by the server: its nearest held-out digit and how far."""
    xy = view.proj["xy"]
    i, d = nearest(xy, torch.tensor(point))
    spacing = _spacing(view)
    ratio = d / spacing if spacing > 0 else float("nan")
    lab = int(view.labels[i])
    name = view.classes[lab] if view.classes and lab < len(view.classes) else str(lab)
    return (f"Pinned at ({point[0]:.2f}, {point[1]:.2f}): nearest held-out digit #{i} (a '{name}'), "
            f"{d:.2f} away = {ratio:.1f}× the typical spacing — {where(ratio)}.")


def draw_view(key: str, held: Held, view: View) -> None:
    """Draw a digit: the browser encodes it on every stroke; μ (and a VAE's 1σ/2σ ellipses) move on the map."""
    meta, arrays = _map_meta(view, held, mode="draw", verdict=[[lim, words] for lim, words in VERDICTS])
    _component()(key=f"{key}_browser", data=pack(meta, arrays), height="content")


def sweep_view(key: str, held: Held, base: torch.Tensor, dim: int, values: torch.Tensor, caption: str) -> None:
    """Traversal in the browser: drag one coordinate of `base` over `values` (their range), decoded per frame."""
    meta = {"model": held.name, "mode": "sweep", "base": _f32(base).reshape(-1).tolist(), "dim": int(dim),
            "lo": float(values[0]), "hi": float(values[-1]), "steps": len(values), "caption": caption}
    _component()(key=f"{key}_browser", data=pack(meta), height="content")


def path_view(key: str, held: Held, view: View, za: torch.Tensor, zb: torch.Tensor, ends: tuple[int, int],
              steps: int = 10) -> None:
    """Interpolation in the browser: the straight path from code za to zb on the map, dragged; held-out images
    `ends` are the two originals."""
    meta, arrays = _map_meta(view, held, mode="path", za=_f32(za).reshape(-1).tolist(),
                             zb=_f32(zb).reshape(-1).tolist(), a=int(ends[0]), b=int(ends[1]), steps=steps, size=260)
    _component()(key=f"{key}_browser", data=pack(meta, arrays), height="content")
