"""Your own data: a zip of PNG/JPG images, an .npy/.npz array, or a CSV of vectors, as a dataset.

`prepare(filename, data)` validates everything in memory and raises UploadError with one line saying what
to change. Reading (upload_formats.py) checks headers and declared sizes before it allocates anything;
then every size limit is checked on the final shape (after a resize) before the one float32 array the
dataset needs is allocated, and the data are scaled to [0, 1] into it a chunk at a time (upload_scaling.py), so
the memory a check takes stays bounded (about the final array plus the raw data) whatever the file says. Nothing
touches the disk until `save()`, which stores the accepted arrays under data_root()/uploads/<hash>/ (hash
of the uploaded bytes and options; written to a temp folder and renamed) and registers the dataset
"upload-<hash>". Arrays are read with allow_pickle=False, never unpickled.

Uploads have owners: `owners.json` in the upload's folder maps each identity who kept it to the file name
*they* uploaded (the same bytes uploaded twice are one dataset with two owners; neither sees the other's file
name). It is rewritten atomically under a file lock (uploads/locks/<hash>.lock); `disown` drops one owner.
Who may see, train on and remove which upload is decided above this layer (engine.jobs.datasets).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import shutil
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import filelock
import numpy as np
import torch

from . import upload_formats as fmt
from .files import DiskFull, is_disk_full, sweep_temp, write_json
from .registry import Dataset, add_resolver, data_root, register, unregister
from .upload_formats import (  # noqa: F401 - the limits, shown by the page
    MAX_BYTES,
    MAX_FEATURES,
    MAX_SAMPLES,
    MIN_SAMPLES,
    UploadError,
)
from .upload_scaling import as_images, check_count, final_shape, labels_of, scale_of, scaled

HELDOUT_FRACTION = 0.15
OWNERS = "owners.json"
LOCK_WAIT_S = 10.0
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
    note: str  # what the uploader is told, with their file name
    warnings: list[str] = field(default_factory=list)
    summary: str = ""  # the note without the file name: what the stored dataset says (it may have several owners)

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
    check_count(x)
    x, shape_kind = as_images(x)
    kind = kind or shape_kind
    resize_here = resize if kind != "images" else None  # a zip's images were resized as they were decoded
    shape = final_shape(x, resize_here)
    if resize_here:
        notes.append(f"resized to {resize[0]}×{resize[1]}")
    scale = scale_of(x, per_feature)
    n = len(x)
    if classes:
        labels = np.asarray(y, dtype=np.int64)
        listed = ", ".join(fmt.shown(c, 20) for c in classes[:5]) + (", ..." if len(classes) > 5 else "")
        notes.append(f"{len(classes)} classes from the folders: {listed}")
    else:
        labels, classes = labels_of(y, n)
    notes.append(scale.how)

    order = np.random.default_rng(seed).permutation(n)
    xt = torch.from_numpy(scaled(x, scale, order, shape))
    yt = torch.from_numpy(np.ascontiguousarray(labels[order]))
    k = max(1, round(n * HELDOUT_FRACTION))  # the first k (in shuffled order) are held out
    h = hashlib.sha256(data)
    h.update(json.dumps([Path(filename).suffix.lower(), resize, seed]).encode())
    name = fmt.shown(Path(filename).name)
    summary = "; ".join(notes) + f"; {n - k} train / {k} held-out."
    return Prepared(h.hexdigest()[:12], name, kind, xt[k:], yt[k:], xt[:k], yt[:k], classes,
                    f"Your upload '{name}': {summary}", summary=summary)


# ---- storing and registering -----------------------------------------------------------------------
def upload_dir() -> Path:
    return data_root() / "uploads"


def save(p: Prepared, owner: str | None = None) -> str:
    """Store an accepted upload (atomically: temp folder, then rename), add `owner` to its owners and register it;
    returns its dataset name. A full disk raises DiskFull (an OSError) with one line; temp folders of crashed
    saves are swept first."""
    final = upload_dir() / p.key
    with _lock(p.key):
        if not (final / "data.npz").exists():
            _store(p, final)
        if owner:
            _change_owners(final, lambda o: o.setdefault(owner, {"source": p.source, "added": time.time()}))
    register(p.name, _loader(final))
    return p.name


def _store(p: Prepared, final: Path) -> None:
    sweep_temp(upload_dir(), "." + "?" * 12 + ".*")  # ".<key>.<random>", older than TEMP_MAX_AGE_S
    tmp = Path(tempfile.mkdtemp(dir=upload_dir(), prefix=f".{p.key}."))
    try:
        np.savez_compressed(tmp / "data.npz", train_x=p.train_x.numpy(), train_y=p.train_y.numpy(),
                            test_x=p.test_x.numpy(), test_y=p.test_y.numpy())
        note = f"Uploaded data: {p.summary}" if p.summary else p.note
        meta = {"name": p.name, "source": p.source, "kind": p.kind, "classes": p.classes, "note": note,
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


# ---- owners ------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _lock(key: str) -> Iterator[None]:
    """The upload's lock: saving, changing its owners and removing it take it (every process, every host)."""
    (upload_dir() / "locks").mkdir(parents=True, exist_ok=True)
    try:
        with filelock.FileLock(upload_dir() / "locks" / f"{key}.lock", timeout=LOCK_WAIT_S):
            yield
    except filelock.Timeout:
        raise UploadError("this dataset is being saved or removed right now: try again in a few seconds") from None


def _owners(folder: Path) -> dict[str, dict]:
    try:
        o = json.loads((folder / OWNERS).read_text())
    except (OSError, ValueError):  # none recorded (stored before owners were), or damaged: nobody owns it
        return {}
    return o if isinstance(o, dict) else {}


def _change_owners(folder: Path, change: Callable[[dict], object]) -> dict[str, dict]:
    """Apply `change` to the owners map and write it back atomically (the caller holds the lock)."""
    o = _owners(folder)
    change(o)
    write_json(folder / OWNERS, o)
    return o


def owners(name: str) -> dict[str, dict]:
    """{identity: {"source": the file name they uploaded, "added": time}} of a stored upload; {} for none."""
    return _owners(upload_dir() / _key_of(name))


def disown(name: str, owner: str) -> int:
    """Drop `owner` from the upload's owners (the data stay); returns how many owners are left.
    UploadError if `owner` does not own it (the same answer as for an upload that does not exist)."""
    key = _key_of(name)
    with _lock(key):
        folder = upload_dir() / key
        if owner not in _owners(folder) or not (folder / "meta.json").exists():
            raise UploadError(f"'{name}' is not one of your datasets")
        return len(_change_owners(folder, lambda o: o.pop(owner)))


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


def stored(owner: str | None = None) -> list[dict]:
    """Metadata of the stored uploads, newest first, each with "owners" (their identities). With `owner`: only
    the uploads they own, each with "source" the file name *they* uploaded."""
    if not upload_dir().exists():
        return []
    out = []
    for d in upload_dir().iterdir():
        if not _is_key(d.name) or not (d / "meta.json").exists():
            continue
        try:
            m = json.loads((d / "meta.json").read_text())
            m["mtime"] = d.stat().st_mtime
        except (OSError, ValueError):  # damaged or removed meanwhile: left out rather than breaking the page
            continue
        o = _owners(d)
        if owner is not None:
            if owner not in o:
                continue
            m["source"] = o[owner].get("source") or m.get("source")
        m["owners"] = sorted(o)
        out.append(m)
    return sorted(out, key=lambda m: m["mtime"], reverse=True)


def _key_of(name: object) -> str:
    key = name.removeprefix("upload-") if isinstance(name, str) else ""
    if not _is_key(key):
        raise UploadError(f"'{fmt.shown(str(name), 30)}' is not an uploaded dataset (upload-<12 hex digits>)")
    return key


def remove(name: str) -> None:
    """Delete a stored upload for every owner ("upload-<hash>"; any other name is refused with UploadError)."""
    key = _key_of(name)
    with _lock(key):
        shutil.rmtree(upload_dir() / key, ignore_errors=True)
    unregister(name)


add_resolver(resolve)
