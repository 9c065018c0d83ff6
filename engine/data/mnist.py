"""MNIST, Fashion-MNIST and a tiny synthetic set. The default, `mnist`, works offline from the MNIST test
set bundled in `data/mnist/` (MNIST by Yann LeCun, Corinna Cortes and Christopher J.C. Burges, CC BY-SA 3.0)."""

from __future__ import annotations

import gzip
import math
import struct
from pathlib import Path

import numpy as np
import torch

from .registry import ROOT, Dataset, DataUnavailable, add_variant, data_root, load, register

BUNDLED_MNIST = ROOT / "data" / "mnist"
HELDOUT = 1000  # the bundled set's fixed split: first 9,000 train, last 1,000 held out


IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}  # type byte -> dtype


def _read_idx(path: Path) -> torch.Tensor:
    """Read an IDX file (optionally gzipped): 0, 0, a type byte, the number of dimensions; the dimensions as
    big-endian int32; the values, big-endian. numpy reads it in milliseconds (torchvision's reader costs an
    import of torchvision: ~2 s and ~90 MB in every process that loads MNIST)."""
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] or raw[1] or raw[2] not in IDX_TYPES:
        raise ValueError(f"{path.name} is not an IDX file (bad header)")
    start = 4 + 4 * raw[3]
    dims = struct.unpack(f">{raw[3]}i", raw[4:start])
    values = np.frombuffer(raw, dtype=IDX_TYPES[raw[2]], count=math.prod(dims), offset=start)
    return torch.from_numpy(values.astype(values.dtype.newbyteorder("="))).reshape(dims)


def _find(folder: Path, stem: str) -> Path | None:
    for p in (folder / stem, folder / f"{stem}.gz"):
        if p.exists():
            return p
    return None


IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def _full(folder: Path) -> tuple[torch.Tensor, ...] | None:
    """The full train/test split if all four IDX files are in `folder` (plain or .gz), else None."""
    paths = [_find(folder, s) for s in IDX_FILES]
    if not all(paths):
        return None
    return tuple(_read_idx(p) for p in paths)


def _images(u8: torch.Tensor) -> torch.Tensor:
    return (u8.float() / 255.0).unsqueeze(1)


def full_variant(name: str) -> str:
    """'<name>-full' when all four IDX files of the full set are on this machine (the test `_full` uses)."""
    folder = data_root() / ("MNIST" if name == "mnist" else "FashionMNIST") / "raw"
    return f"{name}-full" if all(_find(folder, s) for s in IDX_FILES) else name


def load_mnist() -> Dataset:
    full = _full(data_root() / "MNIST" / "raw")
    if full:
        trx, try_, tex, tey = full
        return Dataset("mnist", _images(trx), try_.long(), _images(tex), tey.long(),
                       f"Full MNIST from {data_root() / 'MNIST' / 'raw'}: 60,000 train / 10,000 held-out digits.")
    x = _read_idx(BUNDLED_MNIST / "t10k-images-idx3-ubyte.gz")
    y = _read_idx(BUNDLED_MNIST / "t10k-labels-idx1-ubyte.gz").long()
    n = len(x) - HELDOUT
    return Dataset("mnist", _images(x[:n]), y[:n], _images(x[n:]), y[n:],
                   "Bundled MNIST test set (10,000 real digits, works offline): 9,000 train / 1,000 held-out. "
                   "The full 60,000-digit training set is not on this machine; "
                   "`python -m engine download mnist` fetches it where there is internet.")


FASHION_CLASSES = ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot"]


def load_fashion() -> Dataset:
    folder = data_root() / "FashionMNIST" / "raw"
    full = _full(folder)
    if not full:
        raise DataUnavailable(
            f"Fashion-MNIST is not on this machine (looked in {folder}): run `python -m engine download "
            "fashion-mnist` on a machine with internet, or use the bundled 'mnist'.")
    trx, try_, tex, tey = full
    return Dataset("fashion-mnist", _images(trx), try_.long(), _images(tex), tey.long(),
                   f"Fashion-MNIST from {folder}: 60,000 train / 10,000 held-out.", FASHION_CLASSES)


def load_synthetic(n: int = 600, seed: int = 0) -> Dataset:
    """Tiny offline stand-in (tests, smoke runs): 10 classes of blurred bars and blobs, 28×28."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    labels = torch.arange(n) % 10
    cx = 6 + 1.6 * labels + torch.rand(n, generator=g) * 2
    cy = 6 + 1.6 * (9 - labels) + torch.rand(n, generator=g) * 2
    r = 3 + (labels % 3) + torch.rand(n, generator=g)
    d2 = (xx - cx[:, None, None]) ** 2 + (yy - cy[:, None, None]) ** 2
    img = torch.exp(-d2 / (2 * r[:, None, None] ** 2))
    img = (img + 0.05 * torch.rand(img.shape, generator=g)).clamp(0, 1).unsqueeze(1)
    k = n * 5 // 6
    return Dataset("synthetic", img[:k], labels[:k], img[k:], labels[k:],
                   f"Synthetic blobs ({n} images): a tiny offline stand-in for tests.")


TV_CLASSES = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}


def download(name: str) -> str:
    """Fetch the full dataset through torchvision (needs internet); returns a one-line message."""
    if name not in TV_CLASSES:
        raise DataUnavailable(f"only {', '.join(TV_CLASSES)} can be downloaded, not '{name}'")
    import torchvision.datasets as tvd

    cls = getattr(tvd, TV_CLASSES[name])
    try:
        cls(str(data_root()), train=True, download=True)
        cls(str(data_root()), train=False, download=True)
    except Exception as e:  # noqa: BLE001 - any network failure means the same to the user
        raise DataUnavailable(
            f"could not download {name} ({type(e).__name__}): this machine seems offline. "
            "The bundled MNIST test set still works; or copy the IDX files into "
            f"{data_root() / TV_CLASSES[name] / 'raw'}."
        ) from None
    load.cache_clear()
    return f"{name} downloaded to {data_root() / TV_CLASSES[name] / 'raw'}"


register("mnist", load_mnist)
register("fashion-mnist", load_fashion)
register("synthetic", load_synthetic)
add_variant("mnist", full_variant)
add_variant("fashion-mnist", full_variant)
