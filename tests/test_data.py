"""Datasets: the bundled MNIST offline, a full IDX dataset placed in the data folder, clear offline errors."""

import gzip
import struct

import pytest
import torch

from engine import data
from engine.core.config import make_config
from engine.data import DataUnavailable, load, variant


def test_bundled_mnist_loads_offline():
    ds = load("mnist")
    assert ds.train_x.shape == (9000, 1, 28, 28) and ds.test_x.shape == (1000, 1, 28, 28)
    assert ds.train_x.dtype == torch.float32
    assert ds.train_x.min() == 0 and ds.train_x.max() == 1
    assert ds.train_y.shape == (9000,) and ds.test_y.shape == (1000,)
    assert set(ds.train_y.tolist()) == set(range(10)) and set(ds.test_y.tolist()) == set(range(10))
    assert ds.shape == (1, 28, 28)
    assert "Bundled MNIST" in ds.note and "offline" in ds.note
    assert variant("mnist") == "mnist"
    # Real digits: the mean MNIST pixel is about 0.13, and a '1' has fewer ink pixels than a '0'.
    assert 0.1 < ds.train_x.mean().item() < 0.16
    ink = lambda d: (ds.train_x[ds.train_y == d] > 0.5).float().mean().item()  # noqa: E731
    assert ink(1) < ink(0)


def test_bundled_split_is_fixed():
    a = load("mnist")
    data.load.cache_clear()
    b = load("mnist")
    assert a is not b
    assert torch.equal(a.train_x[:50], b.train_x[:50]) and torch.equal(a.test_y, b.test_y)


def _idx(path, array: torch.Tensor) -> None:
    """Write a gzipped IDX file: magic 0x00 0x00 0x08 <ndim> (unsigned bytes), big-endian int32 dims, data."""
    header = bytes([0, 0, 0x08, array.dim()]) + struct.pack(">" + "i" * array.dim(), *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.to(torch.uint8).numpy().tobytes())


def test_full_idx_dataset_in_the_data_folder_is_used(tmp_path, monkeypatch):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    g = torch.Generator().manual_seed(0)
    trx = torch.randint(0, 256, (30, 28, 28), generator=g)
    tex = torch.randint(0, 256, (12, 28, 28), generator=g)
    try_, tey = torch.arange(30) % 10, torch.arange(12) % 10
    monkeypatch.setenv("AE_LAB_DATA", str(tmp_path))
    before = make_config(dataset="mnist").run_id()
    _idx(raw / "train-images-idx3-ubyte.gz", trx)
    _idx(raw / "train-labels-idx1-ubyte.gz", try_)
    _idx(raw / "t10k-images-idx3-ubyte.gz", tex)
    assert variant("mnist") == "mnist"  # three of four files: not a full dataset yet
    _idx(raw / "t10k-labels-idx1-ubyte.gz", tey)

    assert variant("mnist") == "mnist-full"
    ds = load("mnist")
    assert ds.train_x.shape == (30, 1, 28, 28) and ds.test_x.shape == (12, 1, 28, 28)
    assert torch.equal((ds.train_x * 255).round().squeeze(1).long(), trx)
    assert torch.equal(ds.train_y, try_) and torch.equal(ds.test_y, tey)
    assert "Full MNIST" in ds.note
    # The full dataset is another run identity than the bundled one.
    cfg = make_config(dataset="mnist")
    assert cfg.identity()["data"] == "mnist-full"
    assert cfg.run_id() != before

    monkeypatch.setenv("AE_LAB_DATA", str(tmp_path / "elsewhere"))  # another data folder: loaded afresh
    assert load("mnist").train_x.shape[0] == 9000


def test_fashion_mnist_offline_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("AE_LAB_DATA", str(tmp_path))
    with pytest.raises(DataUnavailable) as e:
        load("fashion-mnist")
    msg = str(e.value)
    assert "Fashion-MNIST is not on this machine" in msg
    assert "python -m engine download fashion-mnist" in msg and "bundled 'mnist'" in msg
    assert "\n" not in msg


def test_unknown_dataset():
    with pytest.raises(DataUnavailable, match="unknown dataset 'nope'"):
        load("nope")


def test_synthetic_dataset():
    ds = load("synthetic")
    assert ds.train_x.shape == (500, 1, 28, 28) and ds.test_x.shape == (100, 1, 28, 28)
    assert 0 <= ds.train_x.min() and ds.train_x.max() <= 1
    assert set(ds.test_y.tolist()) == set(range(10))


def test_register_a_dataset():
    def tiny():
        x = torch.rand(20, 1, 28, 28)
        return data.Dataset("tiny", x[:16], torch.zeros(16, dtype=torch.long), x[16:], torch.zeros(4, dtype=torch.long),
                            "tiny test set")

    data.register("tiny-test", tiny)
    try:
        assert load("tiny-test").train_x.shape == (16, 1, 28, 28)
        assert make_config(dataset="tiny-test").dataset == "tiny-test"
    finally:
        data.LOADERS.pop("tiny-test", None)
        data.load.cache_clear()
