"""'<base>-without-<k>': a dataset with one class removed from its training set (its held-out set keeps
every class, so the removed class is the anomaly an autoencoder trained on the rest should flag)."""

from __future__ import annotations

from .registry import Dataset, Loader, add_resolver, load


def without(base: str, cls: int) -> str:
    """The name of `base` without class `cls` in its training set."""
    return f"{base}-without-{cls}"


def resolve(name: str) -> Loader | None:
    """Loader for '<base>-without-<class>' (None if `name` is not of that form)."""
    base, sep, cls = name.rpartition("-without-")
    if not sep or not cls.isdigit() or not base:
        return None
    c = int(cls)

    def loader() -> Dataset:
        d = load(base)
        if not 0 <= c < len(d.classes):
            raise ValueError(f"class {c} does not exist in '{base}' (0–{len(d.classes) - 1})")
        keep = d.train_y != c
        return Dataset(name, d.train_x[keep], d.train_y[keep], d.test_x, d.test_y,
                       f"{d.note} Training images of class {d.classes[c]} removed ({int((~keep).sum())} images): "
                       "they are the anomaly.", d.classes)

    return loader


add_resolver(resolve)
