"""A digit drawn with the mouse, made to look like an MNIST digit, and how unusual a model finds it.

MNIST's digits were scaled (keeping their aspect ratio) to fit a 20×20 box and then placed in the 28×28
image so that their centre of mass is at the centre; `to_mnist` does the same to a canvas drawing. The
anomaly score is the squared pixel error of the model's reconstruction, ranked against held-out digits.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..core.models import Autoencoder

SIZE, BOX = 28, 20  # the MNIST image and the box the digit is scaled into
INK = 0.05  # pixels darker than this (of 1) are background


def ink(picture: np.ndarray) -> np.ndarray:
    """A picture -> ink in [0, 1] (H, W): RGBA (light strokes; transparent or dark background), RGB or grey."""
    a = np.asarray(picture, dtype=np.float32)
    if a.max() > 1.0:
        a = a / 255.0
    if a.ndim == 2:
        return a
    light = a[..., :3].mean(-1)
    return light * a[..., 3] if a.shape[-1] == 4 else light


def to_mnist(picture: np.ndarray | None, size: int = SIZE, box: int = BOX) -> torch.Tensor | None:
    """A drawing (any size) -> an MNIST-like image (1, 1, size, size) in [0, 1], or None when it is empty."""
    if picture is None or np.asarray(picture).size == 0:
        return None
    x = ink(picture)
    rows, cols = np.nonzero(x > INK)
    if len(rows) == 0:
        return None
    crop = torch.from_numpy(x[rows.min():rows.max() + 1, cols.min():cols.max() + 1].copy())
    h, w = crop.shape
    side = max(h, w)  # pad to a square so the aspect ratio is kept
    square = torch.zeros(side, side)
    square[(side - h) // 2:(side - h) // 2 + h, (side - w) // 2:(side - w) // 2 + w] = crop
    small = F.interpolate(square[None, None], size=(box, box), mode="bilinear", antialias=True,
                          align_corners=False)[0, 0].clamp(0, 1)
    small = small / small.max().clamp_min(1e-6)
    out = torch.zeros(size, size)
    out[(size - box) // 2:(size - box) // 2 + box, (size - box) // 2:(size - box) // 2 + box] = small
    return shift_to_centre(out)[None, None]


def shift_to_centre(img: torch.Tensor) -> torch.Tensor:
    """Move an image (H, W) by whole pixels so its centre of mass sits at the centre (as far as it can go)."""
    h, w = img.shape
    total = img.sum().clamp_min(1e-6)
    cy = float((img.sum(1) * torch.arange(h)).sum() / total)
    cx = float((img.sum(0) * torch.arange(w)).sum() / total)
    rows, cols = torch.nonzero(img > 0, as_tuple=True)
    dy = int(round((h - 1) / 2 - cy))
    dx = int(round((w - 1) / 2 - cx))
    dy = max(-int(rows.min()), min(dy, h - 1 - int(rows.max())))  # never push ink off the image
    dx = max(-int(cols.min()), min(dx, w - 1 - int(cols.max())))
    return torch.roll(img, shifts=(dy, dx), dims=(0, 1))


def fit_shape(x01: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """An MNIST-like image (1, 1, 28, 28) resized to a model's input shape (C, H, W) (e.g. 16×16 Ising
    lattices or RGB uploads), so any run can take the drawing."""
    c, h, w = shape
    if tuple(x01.shape[-2:]) != (h, w):
        x01 = F.interpolate(x01, size=(h, w), mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)
    return x01.expand(-1, c, -1, -1).contiguous()


def recon_error(model: Autoencoder, x01: torch.Tensor) -> torch.Tensor:
    """Squared pixel error in [0, 1] of each image's deterministic reconstruction (the anomaly score): (n,)."""
    recon = model.reconstruct(x01).cpu()
    return (recon - x01.cpu()).pow(2).flatten(1).sum(1)


def percentile(score: float, reference: torch.Tensor) -> float:
    """The share (in %) of `reference` scores at or below `score`: 99 = rarer than 99% of held-out digits."""
    ref = reference.float().flatten()
    return 100.0 * float((ref <= score).float().mean()) if len(ref) else float("nan")


# The anomaly percentile in words: (below this percentile, these words); None: above the last one.
VERDICTS = ((90.0, "an ordinary digit to this model"), (99.0, "unusual"),
            (None, "an anomaly: worse reconstructed than 99% of real digits"))


def verdict(pct: float) -> str:
    """What a percentile of the anomaly score says about a digit, in words (the browser reads VERDICTS too)."""
    return next(words for limit, words in VERDICTS if limit is None or pct < limit)
