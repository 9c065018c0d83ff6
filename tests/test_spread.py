"""The seed-spread audit (engine.teaching.spread): which runs it trains, and how it judges a claim's margin."""

from __future__ import annotations

import math

import pytest

from engine.teaching.lessons import LESSONS, SEEDS, SEPARATED, differing_fields
from engine.teaching.spread import CLAIMS, seed_specs, spread_runs, summarize


def test_seed_runs_are_the_lessons_own_runs_and_replicas():
    for key in CLAIMS:
        own = LESSONS[key].run_specs("cpu")
        for s in SEEDS:
            arms = seed_specs(key, "cpu", s)
            assert set(arms) == set(LESSONS[key].specs("cpu"))
            for arm, cfg in arms.items():
                assert differing_fields([cfg, LESSONS[key].specs("cpu")[arm]]) == []  # only the seed moves
                if s == 0 or arm in LESSONS[key].replicated:  # shared with what the lesson trains anyway
                    assert cfg.run_id() == own[arm if s == 0 else f"{arm}#{s}"].run_id()
    ids = [c.run_id() for _, c in spread_runs("cpu")]
    own_ids = {c.run_id() for k in CLAIMS for c in LESSONS[k].run_specs("cpu").values()}
    assert len(ids) == len(set(ids)) and own_ids <= set(ids)


def test_summary_of_a_claim_over_seeds():
    wide = [[("a < b", 1.0, 10.0)], [("a < b", 1.2, 10.5)], [("a < b", 0.8, 9.5)]]
    row = summarize(wide)[0]
    assert row["smaller"]["mean"] == pytest.approx(1.0) and row["larger"]["mean"] == pytest.approx(10.0)
    assert row["margin"] == pytest.approx(9.0) and row["spread"] == pytest.approx(0.5)
    assert row["ratio"] == pytest.approx(18.0) and row["ratio"] > SEPARATED and row["holds"]
    close = [[("a < b", 1.0, 1.1)], [("a < b", 1.3, 1.2)], [("a < b", 0.9, 1.0)]]
    row = summarize(close)[0]
    assert row["ratio"] < SEPARATED and not row["holds"]  # one seed flips it: the page must show bars
    assert math.isinf(summarize([[("x", 1.0, 2.0)], [("x", 1.0, 2.0)]])[0]["ratio"])


def test_pack_workers_do_not_rerun_a_script_main(tmp_path, monkeypatch):
    """A Streamlit script as __main__ (AppTest runs app.py so) must not be re-run by the spawned workers: before
    the fix each worker crashed on it and the pool replaced them forever (a hang)."""
    import sys
    import types

    from engine.cli.prepare import train_pack
    from engine.core.presets import preset
    from engine.core.store import Store

    script = tmp_path / "page.py"
    script.write_text("raise SystemExit('a worker ran the parent script')\n")
    fake = types.ModuleType("__main__")
    fake.__file__ = str(script)
    monkeypatch.setitem(sys.modules, "__main__", fake)
    cfg = preset("seed-vae", dataset="synthetic", epochs=1)
    done = train_pack([[("vae", cfg)]], tmp_path / "checkpoints", workers=1)
    assert [t.status for t in done] == ["completed"] and sys.modules["__main__"] is fake
    assert Store(tmp_path / "checkpoints").is_complete(cfg.run_id())


def test_a_pack_whose_worker_dies_stops_with_one_line_instead_of_waiting_forever(tmp_path):
    """A worker that cannot start (here: torch refuses 0 threads in the worker's initializer) or is killed while
    training: multiprocessing.Pool started another and waited for the lost chain forever."""
    from engine.cli.prepare import WorkerLost, train_pack
    from engine.core.presets import preset

    cfg = preset("seed-vae", dataset="synthetic", epochs=1)
    with pytest.raises(WorkerLost, match="a training worker process died .* run the same command again"):
        train_pack([[("vae", cfg)]], tmp_path / "checkpoints", workers=1, threads=0)


def test_a_chain_that_fails_stops_the_pack_without_waiting_for_the_others(tmp_path):
    """A chain's error (here Fashion-MNIST is not on this machine) ends the pack at once: the other worker's long run
    is stopped, not awaited (it stays resumable), and no worker process is left behind."""
    import multiprocessing

    from engine.cli.prepare import train_pack
    from engine.core.presets import preset
    from engine.core.store import Store
    from engine.data import DataUnavailable

    long = preset("seed-vae", dataset="synthetic", epochs=500)
    with pytest.raises(DataUnavailable, match="Fashion-MNIST is not on this machine"):
        train_pack([[("long", long)], [("missing", preset("seed-vae", dataset="fashion-mnist", epochs=1))]],
                   tmp_path / "checkpoints", workers=2)
    assert not Store(tmp_path / "checkpoints").is_complete(long.run_id())
    assert not multiprocessing.active_children()
