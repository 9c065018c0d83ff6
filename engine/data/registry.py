"""The dataset registry: a name -> a loader of a `Dataset`, loaded once per process and data folder.

Datasets register themselves when `engine.data` is imported: fixed names with `register(name, loader)`,
families found on disk (generated Ising sets, uploads, "<base>-without-<k>") with `add_resolver(fn)`.
A dataset is small enough to live on the training device whole, so batches are index slices, not a
DataLoader. Images are float32 in [0, 1], shaped (N, C, H, W).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

ROOT = Path(__file__).resolve().parent.parent.parent

Loader = Callable[[], "Dataset"]
Resolver = Callable[[str], Loader | None]  # a name -> its loader, or None if the name is not of its family


class DataUnavailable(RuntimeError):
    """The dataset is not on this machine and cannot be fetched; the message says what to do."""


@dataclass
class Dataset:
    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    note: str  # what is used and why, shown to the user
    classes: list[str] = field(default_factory=lambda: [str(i) for i in range(10)])

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.train_x.shape[1:])


def data_root() -> Path:
    """Where full, generated and uploaded datasets live (env AE_LAB_DATA, default `data/`)."""
    return Path(os.environ.get("AE_LAB_DATA", ROOT / "data"))


_RESOLVERS: list[Resolver] = []
_VARIANTS: dict[str, Callable[[str], str]] = {}  # name -> which data the name resolves to on this machine


class _Loaders(dict):
    """Registered loaders, plus names a resolver finds on disk (registered on first look-up)."""

    def __contains__(self, name: object) -> bool:
        return dict.__contains__(self, name) or (isinstance(name, str) and self._find(name) is not None)

    def __missing__(self, name: str) -> Loader:
        loader = self._find(name)
        if loader is None:
            raise KeyError(name)
        return loader

    def _find(self, name: str) -> Loader | None:
        for resolve in _RESOLVERS:
            loader = resolve(name)
            if loader is not None:
                dict.__setitem__(self, name, loader)
                return loader
        return None


LOADERS = _Loaders()


def register(name: str, loader: Loader) -> None:
    """Add a dataset (e.g. generated physics data or a user's upload) under `name`."""
    LOADERS[name] = loader
    load.cache_clear()


def unregister(name: str) -> None:
    dict.pop(LOADERS, name, None)
    load.cache_clear()


def add_resolver(resolve: Resolver) -> None:
    """Let a family of names (e.g. "upload-<hash>") be found on disk, in any process, when first asked for."""
    if resolve not in _RESOLVERS:
        _RESOLVERS.append(resolve)


def add_variant(name: str, variant_of: Callable[[str], str]) -> None:
    """How `name` resolves on this machine (e.g. "mnist" -> "mnist-full" when the full set is present)."""
    _VARIANTS[name] = variant_of


def variant(name: str) -> str:
    """Which data a dataset name resolves to on this machine (cheap: looks at files only)."""
    if "-without-" in name:  # subsets inherit their base's resolution: mnist-without-2 -> mnist-full-without-2
        base, _, rest = name.partition("-without-")
        return f"{variant(base)}-without-{rest}"
    return _VARIANTS[name](name) if name in _VARIANTS else name


def load(name: str) -> Dataset:
    """The dataset `name`, loaded once per process and data folder (a changed AE_LAB_DATA loads afresh)."""
    return _load(name, str(data_root()))


@lru_cache(maxsize=4)
def _load(name: str, root: str) -> Dataset:
    if name not in LOADERS:
        raise DataUnavailable(f"unknown dataset '{name}'; choose one of: {', '.join(LOADERS)}")
    return LOADERS[name]()


load.cache_clear = _load.cache_clear  # type: ignore[attr-defined]  # callers clear it after adding data
