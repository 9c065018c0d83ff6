"""Your own data: a zip of PNG/JPG images, an .npy/.npz array, or a CSV of vectors, as a dataset.

`prepare(filename, data)` validates everything in memory and raises UploadError with one line saying what
to change. Reading (upload_formats.py) checks headers and declared sizes before it allocates anything;
then every size limit is checked on the final shape (after a resize) before the one float32 array the
dataset needs is allocated, and the data are scaled to [0, 1] into it a chunk at a time, so the memory a
check takes stays bounded (about the final array plus the raw data) whatever the file says. Nothing
touches the disk until `save()`, which stores the accepted arrays under data_root()/uploads/<hash>/ (hash
of the uploaded bytes and options; written to a temp folder and renamed) and registers the dataset
"upload-<hash>". Arrays are read with allow_pickle=False, never unpickled.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from . import upload_formats as fmt
from .files import DiskFull, is_disk_full, sweep_temp
from .registry import Dataset, add_resolver, data_root, register, unregister
from .upload_formats import (  # noqa: F401 - the limits, shown by the page
    MAX_BYTES,
    MAX_FEATURES,
    MAX_SAMPLES,
    MIN_SAMPLES,
    UploadError,
)

HELDOUT_FRACTION = 0.15
CHUNK_NUMBERS = 2**20  # numbers scaled at a time (8 MB as float64): bounds the temporaries
READ_ERRORS = (ValueError, TypeError, OverflowError, OSError, EOFError, RuntimeError, zipfile.BadZipFile, zlib.error,
               csv.Error)


@dataclass
class Prepared:
    """An upload that passed every check: images in [0, 1] shaped (N, C, H, W), split into train/held-out."""

    key: str  # content hash of the upload (and options)
    source: str  # original file name
    kind: str  # images | array | vectors
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    classes: list[str]
    note: str
    warnings: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"upload-{self.key}"

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.train_x.shape[1:])

    def preview(self, n: int = 32) -> torch.Tensor:
        """uint8 (n, C, H, W) of the first training samples, for a grid."""
        return (self.train_x[:n].clamp(0, 1) * 255).round().to(torch.uint8)

    def dataset(self) -> Dataset:
        return Dataset(self.name, self.train_x, self.train_y, self.test_x, self.test_y, self.note, self.classes)


# ---- shape, scaling, the split ---------------------------------------------------------------------
def _as_images(x: np.ndarray) -> tuple[np.ndarray, str]:
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


def _check_count(x: np.ndarray) -> None:
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


def _final_shape(x: np.ndarray, resize: tuple[int, int] | None) -> tuple[int, ...]:
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


def _range(x: np.ndarray, per_feature: bool) -> Scale:
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


def _scaled(x: np.ndarray, scale: Scale, order: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
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


def _labels(y: np.ndarray | None, n: int) -> tuple[np.ndarray, list[str]]:
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


def _read(filename: str, data: bytes, resize: tuple[int, int] | None):
    """(x, y, classes, notes, kind, per_feature) of the upload, by its extension."""
    ext = Path(filename).suffix.lower()
    if ext == ".zip":
        x, y, classes, notes = fmt.read_zip(data, resize)
        return x, y, classes, notes, "images", False
    if ext in (".npy", ".npz"):
        x, y, notes = fmt.read_array(filename, data)
        return x, y, [], notes, None, x.ndim == 2
    if ext in (".csv", ".txt"):
        x, y, notes = fmt.read_csv(data)
        return x, y, [], notes, "vectors", True
    raise UploadError(f"'{fmt.shown(ext or filename)}' files are not accepted: "
                      "upload a .zip of PNG/JPG, an .npy/.npz array or a .csv")


def prepare(filename: str, data: bytes, resize: tuple[int, int] | None = None, seed: int = 0) -> Prepared:
    """Validate and normalise an upload, all in memory. Raises UploadError (one line) if it is refused, and
    no other error: a failure no check foresaw, or running out of memory, is reported the same way."""
    try:
        return _prepare(filename, data, resize, seed)
    except UploadError:
        raise
    except MemoryError:
        raise UploadError("the server ran out of memory checking this file: upload a smaller one") from None
    except READ_ERRORS as e:
        raise UploadError(f"'{fmt.shown(Path(str(filename)).name)}' could not be read ({type(e).__name__}): "
                          "save it again as a .zip of PNG/JPG, an .npy/.npz array or a .csv") from None


def _prepare(filename: str, data: bytes, resize: tuple[int, int] | None, seed: int) -> Prepared:
    if not data:
        raise UploadError("the file is empty")
    if len(data) > fmt.MAX_BYTES:
        raise UploadError(f"the file is {len(data) / 2**20:.0f} MB, at most {fmt.MAX_BYTES // 2**20} MB are allowed")
    if resize is not None and not (len(resize) == 2 and all(isinstance(v, int) and 1 <= v <= 512 for v in resize)):
        raise UploadError(f"resize to between 1×1 and 512×512, got {fmt.shown(str(resize), 30)}")
    x, y, classes, notes, kind, per_feature = _read(filename, data, resize)
    _check_count(x)
    x, shape_kind = _as_images(x)
    kind = kind or shape_kind
    resize_here = resize if kind != "images" else None  # a zip's images were resized as they were decoded
    shape = _final_shape(x, resize_here)
    if resize_here:
        notes.append(f"resized to {resize[0]}×{resize[1]}")
    scale = _range(x, per_feature)
    n = len(x)
    if classes:
        labels = np.asarray(y, dtype=np.int64)
        listed = ", ".join(fmt.shown(c, 20) for c in classes[:5]) + (", ..." if len(classes) > 5 else "")
        notes.append(f"{len(classes)} classes from the folders: {listed}")
    else:
        labels, classes = _labels(y, n)
    notes.append(scale.how)

    order = np.random.default_rng(seed).permutation(n)
    xt = torch.from_numpy(_scaled(x, scale, order, shape))
    yt = torch.from_numpy(np.ascontiguousarray(labels[order]))
    k = max(1, round(n * HELDOUT_FRACTION))  # the first k (in shuffled order) are held out
    h = hashlib.sha256(data)
    h.update(json.dumps([Path(filename).suffix.lower(), resize, seed]).encode())
    name = fmt.shown(Path(filename).name)
    note = f"Your upload '{name}': " + "; ".join(notes) + f"; {n - k} train / {k} held-out."
    return Prepared(h.hexdigest()[:12], name, kind, xt[k:], yt[k:], xt[:k], yt[:k], classes, note)


# ---- storing and registering -----------------------------------------------------------------------
def upload_dir() -> Path:
    return data_root() / "uploads"


def save(p: Prepared) -> str:
    """Store an accepted upload (atomically: temp folder, then rename) and register it; returns its dataset name.
    A full disk raises DiskFull (an OSError) with one line; temp folders of crashed saves are swept first."""
    final = upload_dir() / p.key
    if not (final / "data.npz").exists():
        upload_dir().mkdir(parents=True, exist_ok=True)
        sweep_temp(upload_dir(), "." + "?" * 12 + ".*")  # ".<key>.<random>", older than TEMP_MAX_AGE_S
        tmp = Path(tempfile.mkdtemp(dir=upload_dir(), prefix=f".{p.key}."))
        try:
            np.savez_compressed(tmp / "data.npz", train_x=p.train_x.numpy(), train_y=p.train_y.numpy(),
                                test_x=p.test_x.numpy(), test_y=p.test_y.numpy())
            meta = {"name": p.name, "source": p.source, "kind": p.kind, "classes": p.classes, "note": p.note,
                    "shape": list(p.shape), "train": len(p.train_x), "heldout": len(p.test_x)}
            (tmp / "meta.json").write_text(json.dumps(meta))
            try:
                os.replace(tmp, final)
            except OSError:  # another process stored the same upload first
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException as e:
            shutil.rmtree(tmp, ignore_errors=True)
            if is_disk_full(e):
                raise DiskFull("disk full: the server has no space left to keep this dataset; "
                               "ask your instructor to free some") from e
            raise
    register(p.name, _loader(final))
    return p.name


def _loader(folder: Path) -> Callable[[], Dataset]:
    def load() -> Dataset:
        meta = json.loads((folder / "meta.json").read_text())
        with np.load(folder / "data.npz", allow_pickle=False) as z:
            t = {k: torch.from_numpy(z[k]) for k in ("train_x", "train_y", "test_x", "test_y")}
        return Dataset(meta["name"], t["train_x"], t["train_y"], t["test_x"], t["test_y"], meta["note"],
                       meta["classes"])

    return load


def resolve(name: str) -> Callable[[], Dataset] | None:
    """Loader for "upload-<hash>" if that upload is stored (None for any other name)."""
    if not name.startswith("upload-"):
        return None
    key = name.removeprefix("upload-")
    if not _is_key(key) or not (upload_dir() / key / "data.npz").exists():
        return None
    return _loader(upload_dir() / key)


def _is_key(key: str) -> bool:
    """12 lowercase hex digits: the only folder names under uploads/ a name may point to."""
    return len(key) == 12 and all(c in "0123456789abcdef" for c in key)


def register_stored() -> list[str]:
    """Register every stored upload (so dataset lists show them after a restart); returns their names."""
    names = []
    for m in stored():
        loader = resolve(m["name"])
        if loader is not None:
            register(m["name"], loader)
            names.append(m["name"])
    return names


def stored() -> list[dict]:
    """Metadata of every stored upload, newest first."""
    if not upload_dir().exists():
        return []
    out = []
    for d in upload_dir().iterdir():
        if not _is_key(d.name) or not (d / "meta.json").exists():
            continue
        try:
            m = json.loads((d / "meta.json").read_text())
        except (OSError, ValueError):  # damaged: left out of the list rather than breaking the page
            continue
        m["mtime"] = d.stat().st_mtime
        out.append(m)
    return sorted(out, key=lambda m: m["mtime"], reverse=True)


def remove(name: str) -> None:
    """Delete a stored upload ("upload-<hash>"; any other name is refused with UploadError)."""
    key = name.removeprefix("upload-") if isinstance(name, str) else ""
    if not _is_key(key):
        raise UploadError(f"'{fmt.shown(str(name), 30)}' is not an uploaded dataset (upload-<12 hex digits>)")
    shutil.rmtree(upload_dir() / key, ignore_errors=True)
    unregister(name)


add_resolver(resolve)
