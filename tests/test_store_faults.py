"""The checkpoint store under faults: damaged checkpoints, two writers, --no-cache under a live writer, a full
disk, hostile run ids and export paths, temp files left by crashes."""

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.core import store as store_mod
from engine.core.config import ConfigError, make_config
from engine.core.presets import preset
from engine.core.store import DamagedCheckpoint, DiskFull, RunIdError, RunLocked, Store
from engine.core.trainer import train
from engine.data import files

ROOT = Path(__file__).resolve().parent.parent
TINY = dict(dataset="synthetic", variational=True, output="sigmoid", recon="bce", hidden=(16,), latent_dim=2,
            batch_size=100, epochs=1)
RID = "0123456789ab-e3"


def tiny(**kw):
    return make_config(**{**TINY, **kw})


def engine_cmd(ck: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "engine", "--checkpoints", str(ck), *args]


def one_error_line(p: subprocess.CompletedProcess) -> str:
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in p.stderr, p.stderr
    return lines[0]


# ---- damaged checkpoints ------------------------------------------------------------------------------
@pytest.mark.parametrize("damage", ["truncate", "overwrite", "legacy-truncate"])
def test_a_damaged_checkpoint_is_never_served_and_is_retrained(store, damage):
    cfg = tiny()
    first = train(cfg, store=store)
    rid = cfg.run_id()
    p = store.state_path(rid)
    assert store.is_complete(rid) and store.damaged(rid) is None
    if damage.startswith("legacy"):  # stored before hashes were recorded: checked by loading it
        m = store.meta(rid)
        del m["state_sha256"]
        store.index.set(f"run:{rid}", m)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2] if "truncate" in damage else data[:-8] + b"garbage!")

    why = store.damaged(rid)
    assert why and "\n" not in why
    assert not store.is_complete(rid) and not store.has_state(rid)
    with pytest.raises(DamagedCheckpoint, match=f"checkpoint of run {rid} is damaged .*retrain"):
        store.load_model(rid)
    again = train(cfg, store=store)  # not the cached result: trained afresh, from scratch
    assert not again.cached and again.status == "completed" and again.epochs == 1
    assert store.damaged(rid) is None and store.is_complete(rid)
    assert again.heldout["loss"] == pytest.approx(first.heldout["loss"], rel=1e-5)  # same seed, same weights


def test_the_previous_epochs_hash_stays_valid_while_the_next_one_is_committed(store):
    """A reader may hash the old file after the index already lists the new hash: both are accepted."""
    cfg = tiny(epochs=2)
    train(cfg, store=store)
    hashes = store.meta(cfg.run_id())["state_sha256"]
    assert len(hashes) == 2 and len(set(hashes)) == 2


# ---- one writer per run -------------------------------------------------------------------------------
def _long_run(ck: Path) -> tuple[subprocess.Popen, str]:
    """A real `python -m engine train` that keeps writing one run for minutes, once it has finished an epoch."""
    args = ("train", "--preset", "seed-vae", "--dataset", "synthetic", "--latent-dim", "2", "--epochs", "1000",
            "--quiet")
    a = subprocess.Popen(engine_cmd(ck, *args), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    rid = preset("seed-vae", dataset="synthetic", latent_dim=2, epochs=1000).run_id()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        m = Store(ck).meta(rid) or {}
        if m.get("status") == "running" and m.get("epochs_done", 0) >= 1:
            return a, rid
        assert a.poll() is None, a.communicate()
        time.sleep(0.2)
    a.kill()
    raise AssertionError("the first writer never finished an epoch")


def test_a_second_process_training_the_same_run_is_refused_and_no_cache_deletes_nothing(tmp_path):
    ck = tmp_path / "ck"
    a, rid = _long_run(ck)
    s = Store(ck)
    try:
        args = ("train", "--preset", "seed-vae", "--dataset", "synthetic", "--latent-dim", "2", "--epochs", "1000",
                "--quiet")
        t0 = time.monotonic()
        others = [subprocess.Popen(engine_cmd(ck, *args, *extra), cwd=ROOT, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True) for extra in ((), ("--no-cache",))]
        with pytest.raises(RunLocked):  # nor does deleting it by hand (the Runs page) remove it under its writer
            s.delete(rid)
        for b in others:
            out, err = b.communicate(timeout=120)
            b = subprocess.CompletedProcess(b.args, b.returncode, out, err)
            assert b.returncode == 1, b.stderr
            assert f"run {rid} is being trained by another process" in one_error_line(b)
        assert time.monotonic() - t0 >= store_mod.LOCK_WAIT_S  # they waited for the lock, then gave up
        done = s.meta(rid)["epochs_done"]
        assert s.has_state(rid) and s.meta(rid)["status"] == "running" and done >= 1
        deadline = time.monotonic() + 60
        while s.meta(rid)["epochs_done"] == done and time.monotonic() < deadline:
            time.sleep(0.2)
        assert s.meta(rid)["epochs_done"] > done  # the first writer kept going, undisturbed
    finally:
        a.send_signal(signal.SIGINT)
        a.communicate(timeout=60)
    assert a.returncode == 130
    assert s.meta(rid)["status"] == "stopped" and s.damaged(rid) is None
    s.delete(rid)  # no writer now: deleted at once
    assert s.meta(rid) is None and not s.run_dir(rid).exists()


def test_the_lock_is_per_store_object_and_reentrant(tmp_path, monkeypatch):
    monkeypatch.setattr(store_mod, "LOCK_WAIT_S", 0.2)
    a, b = Store(tmp_path / "ck"), Store(tmp_path / "ck")
    with a.writing(RID):
        with a.writing(RID):  # the trainer deletes its own run (--no-cache) while holding the lock
            pass
        with pytest.raises(RunLocked, match="being trained by another process"), b.writing(RID, wait=0.2):
            pass
    with b.writing(RID, wait=0):
        pass


# ---- a full disk ---------------------------------------------------------------------------------------
def test_disk_full_fails_the_run_with_a_clear_message_and_keeps_the_last_epoch(store, monkeypatch):
    real = store_mod.atomic_write
    calls = []

    def full_on_second_checkpoint(path, write):
        if path.name == "state.pt":
            calls.append(path)
            if len(calls) == 2:
                def write(f):
                    f.write(b"half a checkpoint")
                    raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, write)

    monkeypatch.setattr(store_mod, "atomic_write", full_on_second_checkpoint)
    cfg = tiny(epochs=3)
    with pytest.raises(DiskFull, match="^disk full: no space left to write state.pt"):
        train(cfg, store=store)
    m = store.meta(cfg.run_id())
    assert m["status"] == "failed" and m["message"].startswith("disk full") and m["epochs_done"] == 1
    assert store.damaged(cfg.run_id()) is None  # epoch 1's checkpoint is intact
    assert not list(store.run_dir(cfg.run_id()).glob(".*.tmp"))  # the half-written temp file is gone
    monkeypatch.setattr(store_mod, "atomic_write", real)
    r = train(cfg, store=store)  # space again: resumes from epoch 1
    assert r.status == "completed" and r.epochs == 3


def test_disk_full_in_the_index_is_found_in_the_exception_chain():
    import sqlite3

    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as inner:
            raise RuntimeError("PytorchStreamWriter failed writing file data/0") from inner
    except RuntimeError as e:
        assert files.is_disk_full(e)
    assert files.is_disk_full(sqlite3.OperationalError("database or disk is full"))
    assert not files.is_disk_full(OSError(errno.EACCES, "Permission denied"))


@pytest.fixture
def full_disk(tmp_path):
    """A 4 MB tmpfs (root only): a seed-vae checkpoint (7.8 MB) does not fit, the index and snapshots do."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)],
                                           capture_output=True).returncode:
        pytest.skip("mounting a small tmpfs needs root")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_real_full_disk_in_the_cli(full_disk):
    p = subprocess.run(engine_cmd(full_disk, "train", "--preset", "seed-vae", "--dataset", "synthetic", "--epochs",
                                  "1", "--quiet"), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 1 and one_error_line(p).startswith("error: disk full")
    m = Store(full_disk).runs()[0]
    assert m["status"] == "failed" and m["message"].startswith("disk full")
    assert not list(full_disk.rglob(".*.tmp"))


# ---- hostile ids, names and paths --------------------------------------------------------------------
BAD_IDS = ["../../etc", "", "abc", "0123456789ab-e3\n", "0123456789AB-e3", "0123456789ab-e3/../../x",
           "0123456789ab", "0123456789ab-e3-steered-", "x" * 1000, None, 5]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_no_run_id_walks_out_of_the_store(store, bad):
    for call in (lambda: store.run_dir(bad), lambda: store.state_path(bad), lambda: store.config(bad),
                 lambda: store.load_state(bad), lambda: store.history(bad), lambda: store.snapshot_epochs(bad),
                 lambda: store.snapshot(bad), lambda: store.load_model(bad), lambda: store.set_meta(bad, x=1),
                 lambda: store.save_epoch(bad, {}, {}, None, 1), lambda: store.copy_run(RID, bad),
                 lambda: store.copy_run(bad, RID), lambda: store.delete(bad), lambda: store.archive_steered(bad),
                 lambda: store.damaged(bad), lambda: store.writing(bad).__enter__()):
        with pytest.raises(RunIdError, match="^no run .*: a run id is 12 hex digits") as e:
            call()
        assert "\n" not in str(e.value)
    assert store.meta(bad) is None and not store.has_state(bad) and not store.is_complete(bad)  # just "no such run"
    assert not (store.root.parent / "etc").exists() and [p.name for p in store.root.iterdir()] == ["index"]


def test_every_id_form_the_store_uses_is_accepted(store):
    for rid in (tiny().run_id(), tiny(epochs=1000).run_id(), f"{tiny().run_id()}-steered-12"):
        assert store.run_dir(rid).name == rid


@pytest.mark.parametrize("name", ["../../etc", "ising-../../../x", "upload-../../x1", "MNIST", "mnist/..", "a" * 101,
                                  "mnist\n", ""])
def test_dataset_names_are_checked_before_any_resolver_sees_them(name):
    with pytest.raises(ConfigError) as e:
        make_config(dataset=name)
    assert "\n" not in str(e.value)


def test_export_cli_refuses_bad_ids_and_paths(tmp_path, store, capsys):
    from engine.cli import main

    cfg = tiny()
    train(cfg, store=store)
    rid = cfg.run_id()
    (tmp_path / "afile").write_text("x")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "model.py").write_text("# a student's own file")
    cases = [(("../../etc", "--out", str(tmp_path / "o")), "no run '../../etc'"),
             ((rid, "--out", str(store.run_dir(rid))), "inside the checkpoint store"),
             ((rid, "--out", str(tmp_path / "afile")), "is a file"),
             ((rid, "--out", str(tmp_path / "mine")), "already holds model.py"),
             ((rid, "--out", "bad\x00path"), "cannot export to")]
    for args, message in cases:
        assert main(["--checkpoints", str(store.root), "export", *args]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
    assert json.loads((store.run_dir(rid) / "config.json").read_text())["dataset"] == "synthetic"  # untouched
    for _ in range(2):  # an earlier export may be overwritten
        assert main(["--checkpoints", str(store.root), "export", rid, "--out", str(tmp_path / "o")]) == 0
    p = subprocess.run(engine_cmd(store.root, "export", "../../etc", "--out", str(tmp_path / "p")), cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "no run '../../etc'" in one_error_line(p)


# ---- what crashes leave behind ----------------------------------------------------------------------------
def test_stale_temp_files_are_swept_fresh_ones_kept(tmp_path):
    root = tmp_path / "ck"
    d = root / "runs" / RID
    (d / "snapshots").mkdir(parents=True)
    old = time.time() - files.TEMP_MAX_AGE_S - 60
    stale = [d / ".state.pt.k2j3.tmp", d / "snapshots" / ".epoch-0001.pt.a8s7.tmp", root / ".classroom.json.x.tmp"]
    for p in stale:
        p.write_bytes(b"partial")
        os.utime(p, (old, old))
    fresh = d / ".history.json.q1w2.tmp"  # a live writer's: too young to be swept
    fresh.write_bytes(b"partial")
    (d / "state.pt").write_bytes(b"kept")
    Store(root)  # the first Store of this folder in this process sweeps it
    assert not any(p.exists() for p in stale) and fresh.exists() and (d / "state.pt").exists()


def test_a_run_sweeps_its_own_folder_when_it_starts(store):
    cfg = tiny()
    d = store.run_dir(cfg.run_id())
    (d / "snapshots").mkdir(parents=True)
    left = [d / ".state.pt.crash.tmp", d / "snapshots" / ".epoch-0001.pt.crash.tmp"]
    for p in left:
        p.write_bytes(b"partial")  # fresh, but under the run's lock no live writer can own them
    train(cfg, store=store)
    assert not any(p.exists() for p in left)


def test_upload_temp_folders_are_swept_when_an_upload_is_saved(tmp_path, monkeypatch):
    import io

    import numpy as np

    from engine.data import uploads

    monkeypatch.setenv("AE_LAB_DATA", str(tmp_path / "data"))
    uploads.upload_dir().mkdir(parents=True)
    stale, fresh = uploads.upload_dir() / ".0123456789ab.x1y2", uploads.upload_dir() / ".0123456789ab.z3w4"
    for p in (stale, fresh):
        p.mkdir()
        (p / "data.npz").write_bytes(b"partial")
    old = time.time() - files.TEMP_MAX_AGE_S - 60
    os.utime(stale, (old, old))
    b = io.BytesIO()
    np.save(b, np.zeros((20, 4), np.float32))
    name = uploads.save(uploads.prepare("v.npy", b.getvalue()))
    assert not stale.exists() and fresh.exists() and name in [m["name"] for m in uploads.stored()]
    with pytest.raises(uploads.UploadError, match="not an uploaded dataset"):
        uploads.remove("upload-../../x")


# ---- seeds ---------------------------------------------------------------------------------------------
def test_seeds_are_capped_to_what_every_generator_accepts(store):
    with pytest.raises(ConfigError, match="seed: Input should be less than or equal to 4294967295"):
        make_config(seed=2**32)
    with pytest.raises(ConfigError, match="seed: Input should be greater than or equal to 0"):
        make_config(seed=-1)
    r = train(tiny(seed=2**32 - 1, train_limit=100), store=store)  # seed * 100_003 + epoch stays far below 2**63
    assert r.status == "completed"
