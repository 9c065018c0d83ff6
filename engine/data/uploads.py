"""Your own data: a zip of PNG/JPG images, an .npy/.npz array, or a CSV of vectors, as a dataset.

`prepare(filename, data)` validates everything in memory (size and count limits, zip members checked
for path traversal and decompression bombs, images decodable and of one size, numeric dtype, no NaN)
and raises UploadError with one line saying what to change. Nothing touches the disk until `save()`,
which stores the accepted arrays under data_root()/uploads/<hash>/ (hash of the uploaded bytes and
options; written to a temp folder and renamed) and registers the dataset "upload-<hash>". Arrays are
read with np.load(allow_pickle=False), never unpickled.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import torch

from .registry import Dataset, add_resolver, data_root, register, unregister

MAX_BYTES = 50 * 2**20  # uploaded file
MAX_UNZIPPED = 200 * 2**20  # all zip members together
MAX_RATIO = 200  # uncompressed / compressed size of one zip member (bombs are ~1000×)
MAX_SAMPLES = 100_000
MIN_SAMPLES = 10
MAX_FEATURES = 128 * 128 * 3  # numbers per sample
MAX_IMAGE_PIXELS = 4096 * 4096  # refuse to decode anything larger
MAX_TOTAL = 50_000_000  # numbers in the whole dataset (200 MB as float32)
IMAGE_EXT = {".png", ".jpg", ".jpeg"}
HELDOUT_FRACTION = 0.15


class UploadError(ValueError):
    """A rejected upload; the message (one line) says what to change."""


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


# ---- reading each format ---------------------------------------------------------------------------
def _safe_member(name: str) -> bool:
    p = PurePosixPath(name.replace("\\", "/"))
    return not (p.is_absolute() or ".." in p.parts or (p.parts and ":" in p.parts[0]))


def _read_zip(data: bytes, resize: tuple[int, int] | None) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    from PIL import Image, UnidentifiedImageError

    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise UploadError("this is not a readable zip file: zip the images again (PNG or JPG inside)") from None
    members = []
    total = 0
    for info in zf.infolist():
        if info.is_dir():
            continue
        if not _safe_member(info.filename):
            raise UploadError(f"unsafe path inside the zip: '{info.filename}' (absolute or with '..'); "
                              "zip the images again")
        p = PurePosixPath(info.filename)
        if any(part.startswith(".") or part == "__MACOSX" for part in p.parts) or p.suffix.lower() not in IMAGE_EXT:
            continue
        if info.flag_bits & 0x1:
            raise UploadError("the zip is encrypted: zip the images without a password")
        total += info.file_size
        if info.compress_size and info.file_size / info.compress_size > MAX_RATIO and info.file_size > 2**20:
            raise UploadError(f"'{info.filename}' expands {info.file_size // max(info.compress_size, 1)}× when "
                              "unzipped (a zip bomb?): upload ordinary PNG/JPG files")
        if total > MAX_UNZIPPED:
            raise UploadError(f"the images add up to more than {MAX_UNZIPPED // 2**20} MB unzipped: "
                              "upload fewer or smaller images")
        members.append(info)
    if not members:
        raise UploadError("no .png/.jpg/.jpeg images found in the zip")
    if len(members) > MAX_SAMPLES:
        raise UploadError(f"the zip holds {len(members)} images, at most {MAX_SAMPLES} are allowed")
    members.sort(key=lambda i: i.filename)

    folders = sorted({str(PurePosixPath(i.filename).parent) for i in members})
    classes = folders if len(folders) > 1 else []
    imgs, labels, modes, sizes = [], [], set(), set()
    pixels = 0
    for info in members:
        try:
            with zf.open(info) as f:
                raw = f.read(info.file_size + 1)  # never more than the header promised
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as e:
            raise UploadError(f"'{info.filename}' cannot be unzipped ({type(e).__name__}): "
                              "zip the images again") from None
        if len(raw) > info.file_size:
            raise UploadError(f"'{info.filename}' is larger than its zip header says: zip the images again")
        try:
            with Image.open(io.BytesIO(raw)) as im:
                if im.width * im.height > MAX_IMAGE_PIXELS:
                    raise UploadError(f"'{info.filename}' is {im.width}×{im.height} pixels: too large, resize it first")
                im.load()
                im = im.convert("L" if im.mode in ("1", "L", "LA", "I", "I;16", "F") else "RGB")
        except UploadError:
            raise
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError, ValueError) as e:
            raise UploadError(f"'{info.filename}' could not be decoded as an image ({type(e).__name__}): "
                              "remove it or save it again as PNG/JPG") from None
        if resize:
            im = im.resize((resize[1], resize[0]), Image.Resampling.BILINEAR)
        pixels += im.width * im.height * (3 if im.mode == "RGB" else 1)
        if pixels > MAX_TOTAL:
            raise UploadError(f"the images hold more than {MAX_TOTAL:,} pixel values in all: "
                              "upload fewer or smaller images (or tick 'resize to 28×28')")
        modes.add(im.mode)
        sizes.add(im.size)
        imgs.append(im)
        labels.append(folders.index(str(PurePosixPath(info.filename).parent)) if classes else 0)
    if len(sizes) > 1:
        shown = ", ".join(f"{w}×{h}" for w, h in sorted(sizes)[:3])
        raise UploadError(f"the images have different sizes ({shown}, ...): "
                          "tick 'resize to 28×28' or make them one size")
    w, h = sizes.pop()
    if "RGB" in modes:
        arr = np.stack([np.asarray(im.convert("RGB")) for im in imgs]).transpose(0, 3, 1, 2)
        if (arr == arr[:, :1]).all():  # colour files holding gray pictures
            arr, modes = arr[:, :1], {"L"}
    else:
        arr = np.stack([np.asarray(im) for im in imgs])[:, None]
    warn = [f"{len(imgs)} images, {w}×{h}, {'colour' if 'RGB' in modes else 'grayscale'}"]
    return arr, np.asarray(labels), classes, warn


def _pick(arrays: dict[str, np.ndarray], names: tuple[str, ...]) -> str | None:
    for n in names:
        for k in arrays:
            if k.lower() == n:
                return k
    return None


def _read_array(filename: str, data: bytes) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    if not (data.startswith(b"\x93NUMPY") or data.startswith(b"PK\x03\x04")):
        raise UploadError(f"'{filename}' is not a readable .npy/.npz file: save it with np.save or np.savez")
    try:
        obj = np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as e:
        if "pickle" in str(e).lower():
            raise UploadError("the array holds Python objects (it needs pickle, which is refused): "
                              "save a numeric array with np.save / np.savez") from None
        raise UploadError(f"'{filename}' is not a readable .npy/.npz file: {e}") from None
    except (OSError, EOFError, zipfile.BadZipFile) as e:
        raise UploadError(f"'{filename}' is not a readable .npy/.npz file ({type(e).__name__})") from None
    if isinstance(obj, np.ndarray):
        return obj, None, []
    with obj:
        try:
            arrays = {k: obj[k] for k in obj.files}
        except ValueError:
            raise UploadError("an array in the .npz holds Python objects (needs pickle, refused): "
                              "save numeric arrays") from None
    if not arrays:
        raise UploadError("the .npz file holds no arrays")
    xk = _pick(arrays, ("x", "images", "data", "x_train", "arr_0"))
    if xk is None and len(arrays) == 1:
        xk = next(iter(arrays))
    if xk is None:
        raise UploadError(f"the .npz has arrays {list(arrays)}: name the data 'x' (and labels 'y')")
    yk = _pick(arrays, ("y", "labels", "label", "y_train", "arr_1"))
    if yk == xk:
        yk = None
    return arrays[xk], (arrays[yk] if yk else None), [f"data from '{xk}'" + (f", labels from '{yk}'" if yk else "")]


LABEL_COLUMNS = ("label", "labels", "y", "class", "target")


def _read_csv(data: bytes) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UploadError("the CSV is not UTF-8 text: save it as a plain UTF-8 CSV") from None
    rows = [r for r in csv.reader(io.StringIO(text)) if r and any(c.strip() for c in r)]
    if not rows:
        raise UploadError("the CSV is empty")
    header = None
    try:
        [float(c) for c in rows[0]]
    except ValueError:
        header, rows = [c.strip() for c in rows[0]], rows[1:]
    width = len(header) if header else len(rows[0]) if rows else 0
    if len(rows) > MAX_SAMPLES:
        raise UploadError(f"the CSV has {len(rows)} rows, at most {MAX_SAMPLES} are allowed")
    out = np.empty((len(rows), width), dtype=np.float64)
    for i, r in enumerate(rows):
        if len(r) != width:
            raise UploadError(f"row {i + 1 + (header is not None)} has {len(r)} values, the others {width}: "
                              "every row needs the same number of columns")
        try:
            out[i] = [float(c) for c in r]
        except ValueError:
            bad = next(c for c in r if not _isfloat(c))
            raise UploadError(f"row {i + 1 + (header is not None)} has a non-number '{bad[:20]}': "
                              "the CSV must hold numbers only (one optional header row)") from None
    labels = None
    notes = [f"{len(rows)} vectors of {width} numbers" + (" (header row skipped)" if header else "")]
    if header:
        lc = next((i for i, h in enumerate(header) if h.lower() in LABEL_COLUMNS), None)
        if lc is not None:
            labels = out[:, lc]
            out = np.delete(out, lc, axis=1)
            notes.append(f"labels from column '{header[lc]}'")
    return out, labels, notes


def _isfloat(c: str) -> bool:
    try:
        float(c)
        return True
    except ValueError:
        return False


# ---- shape, dtype, normalisation -------------------------------------------------------------------
def _as_images(x: np.ndarray) -> tuple[np.ndarray, str]:
    """(N, C, H, W) from (N, D) vectors, (N, H, W), (N, C, H, W) or channels-last (N, H, W, C)."""
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


def _normalise(x: np.ndarray, per_feature: bool) -> tuple[np.ndarray, str]:
    if x.dtype == np.uint8:
        return x.astype(np.float32) / 255, "uint8 / 255"
    if x.dtype == np.bool_:
        return x.astype(np.float32), "booleans as 0/1"
    x = x.astype(np.float64)
    lo, hi = float(x.min()), float(x.max())
    if not per_feature and 0 <= lo and hi <= 1:
        return x.astype(np.float32), "already in [0, 1]"
    if per_feature:
        lo_f, hi_f = x.min(0, keepdims=True), x.max(0, keepdims=True)
        span = np.where(hi_f > lo_f, hi_f - lo_f, 1.0)
        return ((x - lo_f) / span).astype(np.float32), "each column min-max scaled to [0, 1]"
    if hi == lo:
        return np.zeros_like(x, dtype=np.float32), "constant data"
    return ((x - lo) / (hi - lo)).astype(np.float32), f"min-max scaled from [{lo:.3g}, {hi:.3g}] to [0, 1]"


def _labels(y: np.ndarray | None, n: int) -> tuple[np.ndarray, list[str]]:
    if y is None:
        return np.zeros(n, dtype=np.int64), ["all"]
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n:
        raise UploadError(f"labels must be one per sample: got shape {y.shape} for {n} samples")
    if y.dtype.kind not in "biuf":
        raise UploadError(f"labels must be numbers, got dtype {y.dtype}")
    values, inv = np.unique(y, return_inverse=True)
    if len(values) > 1000:
        raise UploadError(f"{len(values)} different labels: at most 1000 classes (labels are class ids, not values)")
    return inv.astype(np.int64), [f"{v:g}" for v in values.tolist()]


def prepare(filename: str, data: bytes, resize: tuple[int, int] | None = None, seed: int = 0) -> Prepared:
    """Validate and normalise an upload, all in memory. Raises UploadError (one line) if it is refused."""
    if not data:
        raise UploadError("the file is empty")
    if len(data) > MAX_BYTES:
        raise UploadError(f"the file is {len(data) / 2**20:.0f} MB, at most {MAX_BYTES // 2**20} MB are allowed")
    if resize is not None and not (1 <= resize[0] <= 512 and 1 <= resize[1] <= 512):
        raise UploadError(f"resize to between 1×1 and 512×512, got {resize[0]}×{resize[1]}")
    ext = Path(filename).suffix.lower()
    classes: list[str] = []
    if ext == ".zip":
        x, y, classes, notes = _read_zip(data, resize)
        kind, per_feature = "images", False
    elif ext in (".npy", ".npz"):
        x, y, notes = _read_array(filename, data)
        kind, per_feature = None, x.ndim == 2
    elif ext in (".csv", ".txt"):
        x, y, notes = _read_csv(data)
        kind, per_feature = "vectors", True
    else:
        raise UploadError(f"'{ext or filename}' files are not accepted: "
                          "upload a .zip of PNG/JPG, an .npy/.npz array or a .csv")

    if x.dtype.kind not in "biuf":
        raise UploadError(f"the data must be numbers, got dtype {x.dtype}: save a numeric (int/float) array")
    if x.ndim < 2:
        raise UploadError(f"expected many samples along the first axis, got shape {x.shape}: (N, D) or (N, H, W)")
    n = len(x)
    if n < MIN_SAMPLES:
        raise UploadError(f"only {n} samples: upload at least {MIN_SAMPLES} (some are held out for validation)")
    if n > MAX_SAMPLES:
        raise UploadError(f"{n} samples: at most {MAX_SAMPLES} are allowed, upload a subset")
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        bad = int((~np.isfinite(x)).reshape(n, -1).any(1).sum())
        raise UploadError(f"{bad} samples contain NaN or infinity: remove or fill them")
    x, shape_kind = _as_images(x)
    kind = kind or shape_kind
    if resize is not None and kind != "images":
        if x.shape[1] not in (1, 3) or x.shape[2] == 1:
            raise UploadError("resizing applies to images, not to vectors")
        x = torch.nn.functional.interpolate(torch.from_numpy(np.ascontiguousarray(x)).double(), size=tuple(resize),
                                            mode="bilinear", align_corners=False).numpy()
        notes.append(f"resized to {resize[0]}×{resize[1]}")
    features = int(np.prod(x.shape[1:]))
    if n * features > MAX_TOTAL:
        raise UploadError(f"{n} samples × {features} numbers is more than {MAX_TOTAL:,} in all: upload a subset")
    if features > MAX_FEATURES:
        raise UploadError(f"each sample has {features} numbers, at most {MAX_FEATURES} are allowed: "
                          "use smaller images (e.g. tick 'resize to 28×28')")
    x01, how = _normalise(x, per_feature)
    if y is not None and classes == []:
        labels, classes = _labels(y, n)
    elif classes:
        labels = np.asarray(y, dtype=np.int64)
        more = ", ..." if len(classes) > 5 else ""
        notes.append(f"{len(classes)} classes from the folders: {', '.join(classes[:5])}{more}")
    else:
        labels, classes = _labels(None, n)
    notes.append(how)

    perm = np.random.default_rng(seed).permutation(n)
    k = max(1, round(n * HELDOUT_FRACTION))
    te, tr = perm[:k], perm[k:]
    xt = torch.from_numpy(np.ascontiguousarray(x01))
    yt = torch.from_numpy(labels)
    options = json.dumps([ext, resize, seed]).encode()
    key = hashlib.sha256(data + options).hexdigest()[:12]
    note = f"Your upload '{Path(filename).name}': " + "; ".join(notes) + f"; {len(tr)} train / {len(te)} held-out."
    return Prepared(key, Path(filename).name, kind, xt[tr], yt[tr], xt[te], yt[te], classes, note)


# ---- storing and registering -----------------------------------------------------------------------
def upload_dir() -> Path:
    return data_root() / "uploads"


def save(p: Prepared) -> str:
    """Store an accepted upload (atomically: temp folder, then rename) and register it; returns its dataset name."""
    final = upload_dir() / p.key
    if not (final / "data.npz").exists():
        upload_dir().mkdir(parents=True, exist_ok=True)
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
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
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
    folder = upload_dir() / key
    if len(key) != 12 or not all(c in "0123456789abcdef" for c in key) or not (folder / "data.npz").exists():
        return None
    return _loader(folder)


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
        if d.name.startswith(".") or not (d / "meta.json").exists():
            continue
        m = json.loads((d / "meta.json").read_text())
        m["mtime"] = d.stat().st_mtime
        out.append(m)
    return sorted(out, key=lambda m: m["mtime"], reverse=True)


def remove(name: str) -> None:
    shutil.rmtree(upload_dir() / name.removeprefix("upload-"), ignore_errors=True)
    unregister(name)


add_resolver(resolve)
