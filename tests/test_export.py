"""Export: the standalone model file, loaded in a fresh process without the engine, reproduces the run exactly."""

import io
import json
import os
import subprocess
import sys
import textwrap
import zipfile

import pytest
import torch

from engine.core.presets import preset
from engine.core.trainer import train
from engine.teaching.export import export_dir, export_zip

SCRIPT = textwrap.dedent("""
    import sys, torch
    assert "engine" not in sys.modules
    from model import load, CONFIG
    m = load()
    x = torch.load("x.pt", weights_only=True)
    with torch.no_grad():
        raw = m(x * 2 - 1 if CONFIG["output"] == "tanh" else x).recon
        torch.save({"recon": m.reconstruct(x), "code": m.code(x), "raw": raw}, "out.pt")
    try:
        import engine  # must not be importable from here
        print("ENGINE IMPORTABLE")
    except ImportError:
        pass
""")


def _run_exported(folder, x):
    torch.save(x, folder / "x.pt")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run([sys.executable, "-c", SCRIPT], cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "ENGINE IMPORTABLE" not in r.stdout
    return torch.load(folder / "out.pt", weights_only=True)


@pytest.mark.parametrize("name,overrides", [
    ("seed-mlp-ae", {"hidden": (32, 12)}),
    ("seed-cnn-ae", {}),
    ("conv-vae", {"latent_dim": 4}),
])
def test_exported_model_reproduces_reconstructions(tmp_path, store, name, overrides):
    cfg = preset(name, dataset="synthetic", train_limit=64, epochs=1, batch_size=32, **overrides)
    r = train(cfg, store=store)
    assert r.status == "completed"
    out = tmp_path / "export"
    paths = export_dir(store, r.run_id, out)
    assert sorted(p.name for p in paths) == ["README.txt", "config.json", "model.py", "weights.pt"]
    assert "import engine" not in (out / "model.py").read_text() and "from engine" not in (out / "model.py").read_text()
    assert json.loads((out / "config.json").read_text())["latent_dim"] == cfg.latent_dim

    from engine.data import load

    x = load("synthetic").test_x[:8]
    _, model = store.load_model(r.run_id)
    with torch.no_grad():
        code = model.encode(model.to_model(x))
        code = code[0] if model.variational else code
        expected = model.to_pixels(model.decode(code))
    got = _run_exported(out, x)
    assert torch.equal(got["recon"], expected)  # bit for bit
    assert torch.equal(got["code"], code)
    assert got["raw"].shape == x.shape


def test_zip_and_cli(tmp_path, store):
    cfg = preset("seed-vae", dataset="synthetic", train_limit=64, epochs=1, hidden=(16,), latent_dim=2)
    r = train(cfg, store=store)
    z = zipfile.ZipFile(io.BytesIO(export_zip(store, r.run_id)))
    names = ("README.txt", "config.json", "model.py", "weights.pt")
    assert sorted(z.namelist()) == sorted(f"{r.run_id}/{n}" for n in names)
    state = torch.load(io.BytesIO(z.read(f"{r.run_id}/weights.pt")), weights_only=True)
    assert state["fc_mu.weight"].shape == (2, 16)

    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    cli = [sys.executable, "-m", "engine", "--checkpoints", str(store.root), "export"]
    ok = subprocess.run([*cli, r.run_id, "--out", str(tmp_path / "o")], capture_output=True, text=True, env=env)
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "o" / "model.py").exists()
    bad = subprocess.run([*cli, "nope-e1", "--out", str(tmp_path / "p")], capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "no run 'nope-e1'" in bad.stderr
    assert not (tmp_path / "p").exists()
