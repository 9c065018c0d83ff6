"""Images as real pixels (not plots): batches of images -> one crisp grid. numpy only, so it accepts
torch tensors (on the CPU) without importing torch."""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Callable, Hashable

import numpy as np
import streamlit as st

# Pictures every session draws alike (a run's decoder over its map) are drawn and encoded once per server;
# AE_LAB_SHARE_ACROSS_SESSIONS=0 draws them in every script run again (scripts/class_ws.py compares the two).
SHARED = os.environ.get("AE_LAB_SHARE_ACROSS_SESSIONS", "1") != "0"
MAX_SHARED = 512  # results `shared` keeps per server, oldest dropped first (σ-ellipses, spacings, chart specs)
_SHARED: dict = {}  # key -> what `shared` computed once for every session
_SHARED_LOCK = threading.Lock()  # writers only: a lookup is one dict.get
_MISSING = object()


def shared(key: Hashable, make: Callable):
    """`make()` once per server for `key`: what every session and rerun computes alike (a model's σ-ellipses on a
    plane, a map's typical spacing, a chart's spec). Each session's own script run computed it again, and under a
    class's load those runs queued for the GIL. Two first calls may both make it; then they agree.
    AE_LAB_SHARE_ACROSS_SESSIONS=0: no sharing."""
    if not SHARED:
        return make()
    got = _SHARED.get(key, _MISSING)  # one lookup: another thread may evict between two
    if got is not _MISSING:
        return got
    made = make()  # outside the lock: one slow make holds nobody else up
    with _SHARED_LOCK:
        _SHARED[key] = made
        while len(_SHARED) > MAX_SHARED:
            del _SHARED[next(iter(_SHARED))]
    return made


def to_unit(images) -> np.ndarray:
    """Images (N, C, H, W) as float32 in [0, 1]: uint8 images are divided by 255, floats are clipped."""
    x = np.asarray(images)
    return x.astype(np.float32) / 255 if x.dtype == np.uint8 else np.clip(x.astype(np.float32), 0, 1)


def grid(images, nrow: int = 8, pad: int = 2, scale: int = 3) -> np.ndarray:
    """Images (N, C, H, W), uint8 or in [0, 1] -> one uint8 H×W×3 picture: `nrow` images a row, grey
    lines between them, upscaled `scale`× with crisp pixels."""
    x = to_unit(images)
    n, c, h, w = x.shape
    if c == 1:
        x = np.repeat(x, 3, axis=1)
    cols = min(nrow, n)
    rows = -(-n // cols)
    out = np.full((3, rows * (h + pad) + pad, cols * (w + pad) + pad), 0.5, dtype=np.float32)
    for i in range(n):
        r, k = divmod(i, cols)
        out[:, pad + r * (h + pad): pad + r * (h + pad) + h, pad + k * (w + pad): pad + k * (w + pad) + w] = x[i, :3]
    out = out.repeat(scale, 1).repeat(scale, 2)
    return (out.transpose(1, 2, 0) * 255).round().astype(np.uint8)


def show_grid(images, caption: str | None = None, nrow: int = 8, scale: int = 3) -> None:
    """Draw images (N, C, H, W), uint8 or in [0, 1], as one crisp grid."""
    st.image(grid(images, nrow=nrow, scale=scale), caption=caption)


def png(picture: np.ndarray) -> bytes:
    """An H×W×3 uint8 picture as PNG bytes (lossless: the pixel blocks stay crisp)."""
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(picture).save(out, format="PNG")
    return out.getvalue()


@st.cache_resource(show_spinner=False, max_entries=128)
def _shared_png(key: Hashable, nrow: int, scale: int, _images: Callable) -> bytes:
    return png(grid(_images(), nrow=nrow, scale=scale))


def show_shared_grid(key: Hashable, images: Callable, caption: str | None = None, nrow: int = 8,
                     scale: int = 3) -> None:
    """show_grid for a picture that depends only on `key` (e.g. run, checkpoint, epoch, size): `images()` runs and
    the grid is encoded once for the whole server, then every session and rerun sends the same bytes (which the
    browser's message cache then answers with a reference). Under a class's load, redrawing and re-encoding it
    in every session's script run held the GIL for most of a Latent space click."""
    if not SHARED:
        show_grid(images(), caption, nrow=nrow, scale=scale)
        return
    st.image(_shared_png(key, nrow, scale, images), caption=caption, output_format="PNG")  # PNG: sent as it is


def show_row(images, caption: str | None = None, scale: int = 3) -> None:
    """Draw images (N, C, H, W) side by side in one row."""
    show_grid(images, caption, nrow=max(1, len(images)), scale=scale)


def spin_images(spins) -> np.ndarray:
    """Spin configurations (N, L, L) of ±1 as images (N, 1, L, L) in [0, 1]: black −1, white +1."""
    return (np.asarray(spins, dtype=np.float32)[:, None] + 1) / 2


def pixel_error(a, b, per_image: str = "mean") -> np.ndarray:
    """Squared error per image between two batches (uint8 or [0, 1]), in pixel units [0, 1]: the mean over
    the pixels (`per_image="mean"`) or their sum ("sum", the unit of the held-out `mse01`)."""
    d = np.square(to_unit(a) - to_unit(b)).reshape(len(a), -1)
    return d.mean(1) if per_image == "mean" else d.sum(1)


def matrix_picture(*matrices, gap: int = 2, size: int = 240) -> np.ndarray:
    """Square matrices with values in [0, 1] side by side (a grey gap between), upscaled to about `size`
    pixels high: e.g. a reconstructed adjacency next to the real one."""
    ms = [np.asarray(m, dtype=np.float32) for m in matrices]
    n = ms[0].shape[0]
    parts = [ms[0]]
    for m in ms[1:]:
        parts += [np.full((n, gap), 0.5, dtype=np.float32), m]
    pic = np.concatenate(parts, 1)
    scale = max(1, size // n)
    return (pic.repeat(scale, 0).repeat(scale, 1) * 255).astype(np.uint8)
