"""The store's faults as the pages and the CLI show them: a damaged checkpoint (retrain, no download, no crash), a
run busy in another process, a full disk when keeping an upload, one-line CLI errors, and dataset names checked
before any path is built from them."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from engine.core.presets import preset
from engine.core.trainer import train

APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture(autouse=True)
def _local(tmp_path, monkeypatch):
    monkeypatch.setenv("AE_LAB_DATA", str(tmp_path / "data"))
    for k in ("AE_LAB_CLASSROOM", "AE_LAB_USER"):
        monkeypatch.delenv(k, raising=False)


@pytest.fixture
def damaged(store) -> str:
    rid = train(preset("seed-mlp-ae", dataset="synthetic", epochs=1, latent_dim=2), store=store).run_id
    p = store.state_path(rid)
    p.write_bytes(p.read_bytes()[:100])  # truncated
    assert store.damaged(rid)
    return rid


def _runs_page(rid: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run().switch_page("pages/train/runs.py")
    at.session_state["selected_run"] = rid
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_runs_page_offers_to_retrain_a_damaged_checkpoint(damaged, store):
    at = _runs_page(damaged)
    assert "This checkpoint is damaged: retrain (its contents differ" in at.error[0].value
    assert at.button(key="runs_open").disabled
    retrain = at.button(key="runs_resume")
    assert retrain.label == "Retrain" and not retrain.disabled
    assert not [b for b in at.get("download_button")], "no download of a damaged checkpoint"
    retrain.click().run()
    from engine.jobs import get_backend

    assert get_backend().wait(damaged, timeout=120).status == "completed"
    assert store.damaged(damaged) is None and store.is_complete(damaged)


def test_download_button_explains_a_damaged_checkpoint(damaged):
    def page():
        import streamlit as st

        from ui.runs import download_button

        download_button(st.session_state["rid"], "dl")

    at = AppTest.from_function(page, default_timeout=60)
    at.session_state["rid"] = damaged
    at.run()
    assert not at.exception and "Export unavailable: the checkpoint of run" in at.caption[0].value


def test_deleting_a_run_another_process_trains_says_so(store):
    rid = train(preset("seed-mlp-ae", dataset="synthetic", epochs=1, latent_dim=2), store=store).run_id
    hold = ("import filelock, sys, time; l = filelock.FileLock(sys.argv[1]); l.acquire(); print('held', flush=True); "
            "time.sleep(60)")
    (store.root / "locks").mkdir(exist_ok=True)
    p = subprocess.Popen([sys.executable, "-c", hold, str(store.root / "locks" / f"{rid}.lock")],
                         stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "held"
        at = _runs_page(rid)
        at.checkbox(key="runs_sure").check().run()
        at.button(key="runs_delete").click().run()
        assert not at.exception and "being trained by another process right now" in at.error[0].value
        assert store.meta(rid) is not None
    finally:
        p.kill()
        p.wait()


def test_keeping_an_upload_on_a_full_disk_says_so(monkeypatch):
    from engine.data import uploads
    from engine.data.files import DiskFull

    def full(*a, **k):
        raise DiskFull("disk full: the server has no space left to keep this dataset; ask your instructor to free some")

    monkeypatch.setattr(uploads, "save", full)
    at = AppTest.from_file(APP, default_timeout=120).run().switch_page("pages/beyond/your_data.py").run()
    b = io.BytesIO()
    np.save(b, (np.random.default_rng(0).random((30, 8, 8)) * 255).astype(np.uint8))
    at.file_uploader(key="upload_file").upload("d.npy", b.getvalue()).run()
    at.button(key="upload_keep").click().run()
    assert not at.exception and "disk full" in at.error[0].value


# ---- the CLI and the data layer ------------------------------------------------------------------------------
def test_cli_errors_are_one_line(capsys, monkeypatch):
    from engine.cli import ising as cli_ising
    from engine.cli.jobs import _guard
    from engine.data.ising import IsingParams
    from engine.jobs import JobError

    def refuse(args):
        raise JobError("refused\nTraceback: injected second line")

    assert _guard(refuse)(None) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: refused\\nTraceback")

    def bad(self):
        raise ValueError("bad L\nsecond line")

    monkeypatch.setattr(IsingParams, "check", bad)
    args = type("A", (), dict(temps=2, t_min=1.0, t_max=2.0, L=8, per_temp=4, chains=2, equil=1, gap=1, seed=0,
                              device="cpu"))
    assert cli_ising._cmd(args) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_ising_names_are_checked_before_any_path_is_built(monkeypatch):
    from engine.data import ising

    cache_dir = ising.cache_dir
    monkeypatch.setattr(ising, "cache_dir", lambda: pytest.fail("a path was built from a bad name"))
    for name in ("ising-../../../etc", "ising-ABCDEF012345", "ising-0123456789abc", "0123456789ab", "ising-"):
        assert ising.resolve(name) is None
    monkeypatch.setattr(ising, "cache_dir", cache_dir)
    assert ising.resolve("ising-0123456789ab") is None  # well-formed, not generated
