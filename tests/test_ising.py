"""The Ising sampler against known limits and an exact enumeration; the cached dataset; training on it."""

import itertools
import math

import pytest
import torch

from engine.data import ising
from engine.data.ising import TC, IsingParams, energy_per_spin, generate, sample
from engine.teaching.ising_analysis import analyse


@pytest.fixture(autouse=True)
def _data_root(tmp_path, monkeypatch):
    monkeypatch.setenv("AE_LAB_DATA", str(tmp_path / "data"))


def test_low_temperature_is_ordered():
    d = sample(IsingParams(L=16, temps=(1.0,), per_temp=64, chains=32, equil=200, gap=5))
    assert d.spins.shape == (64, 16, 16) and d.spins.dtype == torch.int8
    assert abs(d.energy.mean().item() + 2) < 0.02  # ground state: E/N = -2
    assert d.m.abs().mean().item() > 0.99
    # the random global flip gives both signs of m
    assert (d.m > 0).any() and (d.m < 0).any()


def test_high_temperature_is_disordered():
    d = sample(IsingParams(L=16, temps=(20.0,), per_temp=128, chains=64, equil=100, gap=5))
    assert abs(d.energy.mean().item() - (-2 * math.tanh(1 / 20))) < 0.02  # high-T expansion: -2 tanh(1/T)
    assert d.m.abs().mean().item() < 0.1


def test_onsager_magnetization_below_tc():
    t = 2.0
    exact = (1 - math.sinh(2 / t) ** -4) ** 0.125  # Onsager/Yang, infinite lattice: 0.911
    d = sample(IsingParams(L=16, temps=(t,), per_temp=128, chains=64, equil=300, gap=5))
    assert abs(d.m.abs().mean().item() - exact) < 0.03


def test_energy_matches_exact_enumeration_on_4x4():
    """Mean energy per spin at T_c on a periodic 4×4 lattice: sampler vs the sum over all 2^16 states."""
    states = torch.tensor(list(itertools.product((-1.0, 1.0), repeat=16))).view(-1, 4, 4)
    e = energy_per_spin(states) * 16
    w = torch.exp(-(e - e.min()) / TC)
    exact = float((w * e).sum() / w.sum()) / 16
    d = sample(IsingParams(L=4, temps=(TC,), per_temp=4000, chains=1000, equil=100, gap=10, seed=1))
    assert abs(d.energy.mean().item() - exact) < 0.03, (d.energy.mean().item(), exact)


def test_generate_caches_on_disk_and_registers(monkeypatch):
    p = IsingParams(L=8, temps=(1.5, 3.0), per_temp=12, chains=4, equil=20, gap=2)
    calls = []
    a = generate(p, progress=lambda done, total: calls.append((done, total)))
    assert calls and calls[-1][0] == calls[-1][1] == 20 + 3 * 2
    assert ising.cache_path(p).exists()
    monkeypatch.setattr(ising, "sample", lambda *a, **k: pytest.fail("should load from the cache"))
    b = generate(p)
    assert torch.equal(a.spins, b.spins) and torch.equal(a.temp_index, b.temp_index)

    from engine.core.config import make_config
    from engine.data import load

    cfg = make_config(dataset=p.name, epochs=1)  # validated against the registered datasets
    ds = load(cfg.dataset)
    assert ds.train_x.shape[1:] == (1, 8, 8) and len(ds.train_x) + len(ds.test_x) == 24
    assert set(ds.train_x.unique().tolist()) <= {0.0, 1.0}
    assert ds.classes == ["T=1.50", "T=3.00"]


def test_name_resolves_from_disk_in_a_fresh_registry():
    """A worker process only has the files: 'ising-<hash>' must resolve from the cache alone."""
    p = IsingParams(L=8, temps=(2.0,), per_temp=6, chains=3, equil=5, gap=1)
    generate(p)
    from engine import data

    data.LOADERS.pop(p.name, None)
    assert p.name in data.LOADERS
    assert "ising-000000000000" not in data.LOADERS
    assert "ising" in data.LOADERS


def test_bad_params_message():
    with pytest.raises(ValueError, match="even"):
        IsingParams(L=7).check()


def test_train_and_analyse(store):
    from engine.core.presets import preset
    from engine.core.trainer import train

    p = IsingParams(L=8, temps=(1.2, 4.0), per_temp=60, chains=10, equil=50, gap=3)
    d = generate(p)
    cfg = preset("seed-vae", dataset=p.name, hidden=(32,), latent_dim=1, epochs=2, batch_size=32)
    r = train(cfg, store=store)
    assert r.status == "completed"
    _, model = store.load_model(r.run_id)
    a = analyse(model, d)
    n = len(ising.heldout(d).spins)
    assert a["z"].shape == (n, 1) and a["T"].shape == (n,) and a["recon_err"].shape == (n,)
    assert torch.all(a["abs_m"] <= 1) and torch.isfinite(a["recon_err"]).all()
    rows = ising.per_temperature(d)
    assert rows[0]["abs_m"] > 0.9 > rows[1]["abs_m"]


def test_page_generates_trains_and_plots(monkeypatch, tmp_path):
    """Page 10 in Streamlit's AppTest: generate a small set, train 2 epochs in a background job, see the latent
    analysis."""
    import os

    from streamlit.testing.v1 import AppTest

    from engine.jobs import get_backend

    monkeypatch.setenv("AE_LAB_DATA", str(tmp_path / "data"))  # the worker process finds the set here too
    app = os.path.join(os.path.dirname(__file__), "..", "app.py")
    at = AppTest.from_file(app, default_timeout=300).run().switch_page("pages/beyond/ising.py").run()
    assert not at.exception
    at.select_slider(key="ising_L").set_value(16)
    at.slider(key="ising_nt").set_value(6)
    at.select_slider(key="ising_per").set_value(50)
    at.select_slider(key="ising_equil").set_value(100)
    at.run()
    at.button(key="gen").click().run()
    assert not at.exception and at.success
    assert not [i for i in at.info if i.value.startswith("Not generated yet")], "not beside the set it generated"
    assert not [b for b in at.button if b.key == "gen"]
    at.slider(key="ising_epochs").set_value(2)
    at.button(key="ising_train").click().run()
    assert not at.exception
    assert get_backend().wait(at.session_state["ising_job"], timeout=280).status == "completed"
    at.run()
    assert not at.exception
    assert at.selectbox(key="ising_run").value  # the trained run is offered for analysis
    cap = [c.value for c in at.caption if c.value.startswith("Held-out configurations")]
    assert cap and "Correlation of z" in cap[0]


def test_cli_generates_and_refuses_bad_flags(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.getcwd(), "AE_LAB_DATA": str(tmp_path / "d")}
    cmd = [sys.executable, "-m", "engine", "ising", "--L", "8", "--temps", "2", "--t-min", "1", "--t-max", "4",
           "--per-temp", "8", "--chains", "4", "--equil", "20", "--gap", "2"]
    ok = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert ok.returncode == 0, ok.stderr
    first = ok.stdout.splitlines()[0]  # "T=1.000  <|m|>=0.996  E/N=-1.984"
    assert first.startswith("T=1.000") and float(first.split("<|m|>=")[1].split()[0]) > 0.95
    assert len(list((tmp_path / "d" / "ising").glob("*.pt"))) == 1
    bad = subprocess.run(cmd[:4] + ["--L", "7"], capture_output=True, text=True, env=env, timeout=300)
    assert bad.returncode == 2 and bad.stderr.startswith("error: lattice size L must be even")
