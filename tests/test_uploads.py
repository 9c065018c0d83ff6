"""Uploads: each accepted format becomes a trainable dataset; every bad file gives one line and leaves nothing."""

import io
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from engine.core.models import cnn_problem
from engine.data import upload_formats, uploads
from engine.data.uploads import UploadError, prepare, save


@pytest.fixture(autouse=True)
def _data_root(tmp_path, monkeypatch):
    monkeypatch.setenv("AE_LAB_DATA", str(tmp_path / "data"))


def _png(arr: np.ndarray, fmt: str = "PNG") -> bytes:
    b = io.BytesIO()
    Image.fromarray(arr).save(b, format=fmt)
    return b.getvalue()


def _zip(files: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", compression) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return b.getvalue()


def _images(n=24, size=(28, 28), seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size, dtype=np.uint8) for _ in range(n)]


def _nothing_stored():
    d = uploads.upload_dir()
    return not d.exists() or not any(d.iterdir())


def test_zip_of_pngs_with_class_folders_trains(store):
    imgs = _images(24)
    files = {f"{'cat' if i % 2 else 'dog'}/{i:03d}.png": _png(a) for i, a in enumerate(imgs)}
    files["__MACOSX/._junk.png"] = b"junk"
    p = prepare("pets.zip", _zip(files))
    assert p.kind == "images" and p.shape == (1, 28, 28)
    assert len(p.train_x) + len(p.test_x) == 24 and len(p.test_x) == 4
    assert p.classes == ["cat", "dog"]
    assert 0 <= float(p.train_x.min()) and float(p.train_x.max()) <= 1
    # pixel values survive exactly: find one image by its class and compare
    allx = torch.cat([p.train_x, p.test_x])
    assert any(torch.equal((x[0] * 255).round().to(torch.uint8), torch.from_numpy(imgs[0])) for x in allx)
    assert p.preview(8).dtype == torch.uint8 and p.preview(8).shape == (8, 1, 28, 28)
    assert cnn_problem(p.shape) is None

    name = save(p)
    assert name == f"upload-{p.key}" and (uploads.upload_dir() / p.key / "data.npz").exists()
    from engine.core.presets import preset
    from engine.core.trainer import train
    from engine.data import LOADERS

    dict.pop(LOADERS, name)  # as in a fresh worker process: found again from disk
    cfg = preset("seed-cnn-ae", dataset=name, epochs=1, batch_size=8)
    r = train(cfg, store=store)
    assert r.status == "completed" and r.heldout["mse01"] >= 0
    assert [m["name"] for m in uploads.stored()] == [name]


def test_colour_jpgs_and_resize():
    rng = np.random.default_rng(1)
    files = {f"{i}.jpg": _png(rng.integers(0, 256, (20 + i % 2, 30, 3), dtype=np.uint8), "JPEG") for i in range(12)}
    with pytest.raises(UploadError, match="different sizes"):
        prepare("c.zip", _zip(files))
    p = prepare("c.zip", _zip(files), resize=(28, 28))
    assert p.shape == (3, 28, 28)
    assert cnn_problem((1, 20, 30)).startswith("the CNN models need 28×28")


def test_npy_npz_and_csv_shapes():
    x = np.random.default_rng(0).normal(size=(40, 16, 16)).astype(np.float32)
    b = io.BytesIO()
    np.save(b, x)
    p = prepare("a.npy", b.getvalue())
    assert p.shape == (1, 16, 16) and float(p.train_x.min()) >= 0 and float(p.train_x.max()) <= 1
    assert "min-max" in p.note

    b = io.BytesIO()
    np.savez(b, x=(np.random.default_rng(0).random((30, 8, 8, 3)) * 255).astype(np.uint8), y=np.arange(30) % 3)
    p = prepare("b.npz", b.getvalue())
    assert p.shape == (3, 8, 8) and p.classes == ["0", "1", "2"]

    rows = ["f1,f2,f3,label"] + [f"{i},{2 * i},{-i},{i % 2}" for i in range(20)]
    p = prepare("v.csv", "\n".join(rows).encode())
    assert p.kind == "vectors" and p.shape == (1, 1, 3) and p.classes == ["0", "1"]
    assert float(torch.cat([p.train_x, p.test_x]).max()) == 1.0


@pytest.mark.parametrize("name,data,match", [
    ("x.exe", b"MZ", "not accepted"),
    ("x.zip", b"not a zip", "not a readable zip"),
    ("x.npy", b"garbage", "not a readable"),
    ("x.csv", b"1,2\n3\n" + b"1,2\n" * 20, "same number of columns"),
    ("x.csv", b"1,2\n3,abc\n" + b"1,2\n" * 20, "non-number"),
    ("x.zip", None, "unsafe path"),
    ("x.zip", "bomb", "zip bomb"),
    ("x.zip", "broken", "could not be decoded"),
    ("x.npy", "nan", "NaN"),
    ("x.npy", "object", "pickle"),
    ("x.npy", "few", "at least 10"),
    ("x.npy", "strings", "numbers"),
    ("x.npy", "huge", "at most"),
    ("x.npz", "unnamed", "name the data 'x'"),
    ("x.csv", b"", "empty"),
])
def test_bad_uploads_give_one_line_and_keep_nothing(name, data, match):
    def npy(a, **kw):
        b = io.BytesIO()
        np.save(b, a, **kw)
        return b.getvalue()

    if data is None:
        data = _zip({"../../evil.png": _png(_images(1)[0]), **{f"{i}.png": _png(a) for i, a in enumerate(_images(12))}})
    elif data == "bomb":
        data = _zip({"big.png": b"\0" * (50 * 2**20)})
    elif data == "broken":
        data = _zip({**{f"{i}.png": _png(a) for i, a in enumerate(_images(12))}, "z.png": b"\x89PNG broken"})
    elif data == "nan":
        a = np.zeros((20, 4), np.float32)
        a[3, 1] = np.nan
        data = npy(a)
    elif data == "object":
        data = npy(np.array([{"a": 1}] * 20, dtype=object), allow_pickle=True)
    elif data == "few":
        data = npy(np.zeros((3, 4)))
    elif data == "strings":
        data = npy(np.array(["a"] * 20))
    elif data == "huge":
        data = npy(np.zeros((10, 400, 400), np.uint8))
    elif data == "unnamed":
        b = io.BytesIO()
        np.savez(b, a=np.zeros((20, 3)), b=np.zeros((20, 3)))
        data = b.getvalue()
    with pytest.raises(UploadError, match=match) as e:
        prepare(name, data)
    assert "\n" not in str(e.value)
    assert _nothing_stored()


def test_oversized_file_refused(monkeypatch):
    monkeypatch.setattr(upload_formats, "MAX_BYTES", 1000)
    with pytest.raises(UploadError, match="at most 0 MB|MB"):
        prepare("x.csv", b"1," * 1000)


def test_unknown_upload_name_is_not_a_dataset():
    from engine.core.config import ConfigError, make_config

    with pytest.raises(ConfigError, match="unknown dataset 'upload-0123456789ab'"):
        make_config(dataset="upload-0123456789ab")


def test_page_rejects_bad_file_and_trains_a_good_one(monkeypatch):
    """Page 11 end to end in Streamlit's AppTest: a bad file → one error, nothing kept; a good one → kept, trained."""
    import os

    from streamlit.testing.v1 import AppTest

    app = os.path.join(os.path.dirname(__file__), "..", "app.py")
    at = AppTest.from_file(app, default_timeout=300).run().switch_page("pages/beyond/your_data.py").run()
    assert not at.exception
    at.file_uploader(key="upload_file").upload("bad.npy", b"garbage").run()
    assert not at.exception
    assert len(at.error) == 1 and "not accepted" in at.error[0].value
    assert _nothing_stored()

    b = io.BytesIO()
    np.save(b, (np.random.default_rng(0).random((60, 28, 28)) * 255).astype(np.uint8))
    at.file_uploader(key="upload_file").upload("digits.npy", b.getvalue()).run()
    assert not at.exception and not at.error
    at.button(key="upload_keep").click().run()
    assert [m["source"] for m in uploads.stored()] == ["digits.npy"]
    at.slider(key="upload_epochs").set_value(1)
    at.button(key="upload_train").click().run()
    assert not at.exception
    from engine.core.store import Store
    from engine.jobs import get_backend

    assert get_backend().wait(at.session_state["upload_job"], timeout=280).status == "completed"  # a background job

    runs = Store().runs()
    assert len(runs) == 1 and runs[0]["status"] == "completed" and runs[0]["config"]["dataset"].startswith("upload-")


def test_register_stored_after_restart():
    from engine import data

    x = (np.random.default_rng(0).random((20, 5))).astype(np.float32)
    b = io.BytesIO()
    np.save(b, x)
    name = save(prepare("v.npy", b.getvalue()))
    dict.pop(data.LOADERS, name)
    assert name not in list(data.LOADERS)  # not listed until registered (or looked up)
    assert uploads.register_stored() == [name] and name in list(data.LOADERS)
    ds = data.load(name)
    assert ds.train_x.shape[1:] == (1, 1, 5) and len(ds.train_x) + len(ds.test_x) == 20
    uploads.remove(name)
    assert name not in data.LOADERS and uploads.stored() == []


def test_total_size_limit(monkeypatch):
    monkeypatch.setattr(upload_formats, "MAX_TOTAL", 28 * 28 * 15)
    files = {f"{i}.png": _png(a) for i, a in enumerate(_images(20))}
    with pytest.raises(UploadError, match="pixel values in all"):
        prepare("x.zip", _zip(files))
    assert prepare("x.zip", _zip(files), resize=(8, 8)).shape == (1, 8, 8)  # smaller after resizing: fits
    b = io.BytesIO()
    np.save(b, np.zeros((20, 28, 28), np.uint8))
    with pytest.raises(UploadError, match="in all"):
        prepare("x.npy", b.getvalue())
