"""Uploads, from raw arrays to the dataset: shapes, the size limits on the final shape, scaling to [0, 1] a chunk
at a time (so the memory a check takes stays bounded), and labels. Used by engine.data.uploads.prepare."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch

from . import upload_formats as fmt
from .upload_formats import UploadError

CHUNK_NUMBERS = 2**20  # numbers scaled at a time (8 MB as float64): bounds the temporaries


def as_images(x: np.ndarray) -> tuple[np.ndarray, str]:
    """(N, C, H, W) from (N, D) vectors, (N, H, W), (N, C, H, W) or channels-last (N, H, W, C): views, no copy."""
    if x.ndim == 2:
        return x[:, None, None, :], "vectors"
    if x.ndim == 3:
        return x[:, None], "array"
    if x.ndim == 4:
        if x.shape[1] in (1, 3):
            return x, "array"
        if x.shape[3] in (1, 3):
            return x.transpose(0, 3, 1, 2), "array"
        raise UploadError(f"4-D arrays need 1 or 3 channels (N, C, H, W) or (N, H, W, C), got shape {x.shape}")
    raise UploadError("expected samples along the first axis: (N, D) vectors or (N, H, W) / (N, C, H, W) images, "
                      f"got shape {x.shape}")


def check_count(x: np.ndarray) -> None:
    if x.dtype.kind not in "biuf":
        raise UploadError(f"the data must be numbers, got dtype {x.dtype}: save a numeric (int/float) array")
    if x.ndim < 2:
        raise UploadError(f"expected many samples along the first axis, got shape {x.shape}: (N, D) or (N, H, W)")
    if len(x) < fmt.MIN_SAMPLES:
        raise UploadError(f"only {len(x)} samples: upload at least {fmt.MIN_SAMPLES} "
                          "(some are held out for validation)")
    if len(x) > fmt.MAX_SAMPLES:
        raise UploadError(f"{len(x)} samples: at most {fmt.MAX_SAMPLES} are allowed, upload a subset")
    if math.prod(x.shape[1:]) == 0:
        raise UploadError(f"each sample holds no numbers (shape {x.shape}): every sample needs at least one value")


def final_shape(x: np.ndarray, resize: tuple[int, int] | None) -> tuple[int, ...]:
    """(C, H, W) of one sample as it will be stored, with the size limits checked on it before any resizing."""
    shape = tuple(x.shape[1:])
    if resize is not None:
        if x.shape[1] not in (1, 3) or x.shape[2] == 1:
            raise UploadError("resizing applies to images, not to vectors")
        shape = (x.shape[1], *resize)
    features = math.prod(shape)
    if len(x) * features > fmt.MAX_TOTAL:
        raise UploadError(f"{len(x)} samples × {features} numbers is more than {fmt.MAX_TOTAL:,} in all: "
                          "upload a subset" + (" or resize to a smaller size" if resize else ""))
    if features > fmt.MAX_FEATURES:
        raise UploadError(f"each sample has {features} numbers, at most {fmt.MAX_FEATURES} are allowed: "
                          "use smaller images (e.g. tick 'resize to 28×28')")
    return shape


class Scale(NamedTuple):
    """x maps to [0, 1] as (x - lo) / span; where the span overflows (values near ±1.8e308, where hi - lo is
    infinite and the scaled data would be NaN) as (x/2 - lo/2) / half, half = hi/2 - lo/2. Halving everywhere
    would not do: it rounds subnormal spans (5e-324) to 0."""

    lo: float | np.ndarray
    span: float | np.ndarray
    half: float | np.ndarray
    how: str

    def unit(self, c: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # the branch np.where drops
            return np.where(np.isinf(self.span), (c / 2 - self.lo / 2) / self.half, (c - self.lo) / self.span)


def scale_of(x: np.ndarray, per_feature: bool) -> Scale:
    """How x maps to [0, 1]: fixed for uint8 and bool, else min-max (per column for vectors)."""
    if x.dtype == np.uint8:
        return Scale(0.0, 255.0, 127.5, "uint8 / 255")
    if x.dtype == np.bool_:
        return Scale(0.0, 1.0, 0.5, "booleans as 0/1")
    if x.dtype.kind == "f":
        bad = int((~np.isfinite(x)).reshape(len(x), -1).any(1).sum())
        if bad:
            raise UploadError(f"{bad} samples contain NaN or infinity: remove or fill them")
    if per_feature:
        lo, hi = x.min(0, keepdims=True).astype(np.float64), x.max(0, keepdims=True).astype(np.float64)
        how = "each column min-max scaled to [0, 1]"
    else:
        lo, hi = np.float64(x.min()), np.float64(x.max())
        if 0 <= lo and hi <= 1:
            return Scale(0.0, 1.0, 0.5, "already in [0, 1]")
        how = "constant data" if hi == lo else f"min-max scaled from [{lo:.3g}, {hi:.3g}] to [0, 1]"
    if not (np.isfinite(lo).all() and np.isfinite(hi).all()):
        raise UploadError("the values exceed float64's range (±1.8e308): rescale them before uploading")
    with np.errstate(over="ignore"):
        span = np.where(hi > lo, hi - lo, 1.0)  # a constant column (or dataset) maps to 0
    return Scale(lo, span, hi / 2 - lo / 2, how)


def scaled(x: np.ndarray, scale: Scale, order: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """float32 (N, *shape) in [0, 1]: the samples of x in `order`, scaled and resized a chunk at a time."""
    out = np.empty((len(x), *shape), np.float32)
    step = max(1, CHUNK_NUMBERS // max(math.prod(x.shape[1:]), math.prod(shape)))
    for i in range(0, len(x), step):
        c = scale.unit(np.asarray(x[order[i:i + step]], dtype=np.float64)).astype(np.float32)
        if c.shape[1:] != shape:
            c = torch.nn.functional.interpolate(torch.from_numpy(c), size=shape[1:], mode="bilinear",
                                                align_corners=False).numpy()
        if not np.isfinite(c).all():
            raise UploadError("scaling these values gave NaN or infinity: rescale the data (e.g. to [0, 1]) first")
        np.clip(c, 0.0, 1.0, out=out[i:i + step])  # rounding (and bilinear weights) may step a hair outside
    return out


def labels_of(y: np.ndarray | None, n: int) -> tuple[np.ndarray, list[str]]:
    if y is None:
        return np.zeros(n, dtype=np.int64), ["all"]
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n:
        raise UploadError(f"labels must be one per sample: got shape {y.shape} for {n} samples")
    if y.dtype.kind not in "biuf":
        raise UploadError(f"labels must be numbers, got dtype {y.dtype}")
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise UploadError("some labels are NaN or infinity: labels must be finite class ids")
    values, inv = np.unique(y, return_inverse=True)
    if len(values) > 1000:
        raise UploadError(f"{len(values)} different labels: at most 1000 classes (labels are class ids, not values)")
    return inv.astype(np.int64), [f"{v:g}" for v in values.tolist()]
