"""`python -m engine ...` as a student runs it: real subprocesses, JSON output, one-line errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, checkpoints: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ}
    if checkpoints is not None:
        env["AE_LAB_CHECKPOINTS"] = str(checkpoints)
    return subprocess.run([sys.executable, "-m", "engine", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def test_presets_lists_every_preset(capsys):
    from engine.cli import main
    from engine.core.presets import PRESETS

    p = run("presets")
    assert p.returncode == 0, p.stderr
    names = [line.split()[0] for line in p.stdout.splitlines()]
    assert names == list(PRESETS)
    assert "784-400-20" in p.stdout
    assert main(["presets", "--json"]) == 0
    js = json.loads(capsys.readouterr().out)
    assert js["seed-vae"]["latent_dim"] == 20 and js["seed-mlp-ae"]["weight_decay"] == 1e-5


def test_train_json_then_cached(tmp_path):
    ck = tmp_path / "ck"
    args = ("train", "--preset", "seed-vae", "--epochs", "1", "--train-limit", "256", "--json")
    p = run(*args, checkpoints=ck)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert set(out) >= {"run_id", "checkpoint", "cached", "epochs", "train", "heldout", "epoch_seconds", "status"}
    assert out["cached"] is False and out["epochs"] == 1 and out["status"] == "completed"
    assert Path(out["checkpoint"]).is_file() and str(ck) in out["checkpoint"]
    for part in ("train", "heldout"):
        assert {"recon", "kl", "loss"} <= set(out[part])
        assert out[part]["loss"] == pytest.approx(out[part]["recon"] + out[part]["kl"], rel=1e-5)
        assert 50 < out[part]["recon"] < 600  # BCE summed over 784 pixels, per image
    assert len(out["epoch_seconds"]) == 1 and out["epoch_seconds"][0] > 0
    assert "Bundled MNIST" in p.stderr  # says which data it used (the progress bar is on stderr too)

    again = run(*args, checkpoints=ck)
    assert again.returncode == 0, again.stderr
    cached = json.loads(again.stdout.strip().splitlines()[-1])
    assert cached["cached"] is True and cached["run_id"] == out["run_id"] and cached["epoch_seconds"] == []
    assert cached["heldout"]["loss"] == pytest.approx(out["heldout"]["loss"])
    assert cached["checkpoint"] == out["checkpoint"]


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """Run the CLI in this process (no torch start-up per call): (exit code, stdout, stderr)."""
    from engine.cli import main

    try:
        code = main(list(args))
    except SystemExit as e:  # argparse exits itself
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_train_text_output_and_no_cache(tmp_path, capsys):
    args = ("--checkpoints", str(tmp_path / "ck"), "train", "--preset", "seed-mlp-ae", "--epochs", "1",
            "--dataset", "synthetic", "--latent-dim", "2", "--batch-size", "100")
    code, out, err = cli(capsys, *args)
    assert code == 0, err
    assert out.startswith("completed: run ") and "(trained)" in out and "held-out recon" in out
    assert "Synthetic blobs" in err  # which data was used, above the progress bar
    assert "(cached)" in cli(capsys, *args, "--quiet")[1]
    assert "(trained)" in cli(capsys, *args, "--quiet", "--no-cache")[1]
    assert (tmp_path / "ck" / "runs").is_dir()


BAD = [
    (("train", "--preset", "nope"), "unknown preset 'nope'"),
    (("train", "--preset", "seed-vae", "--beta", "-1"), "beta must be ≥ 0"),
    (("train", "--preset", "seed-vae", "--epochs", "abc"), "argument --epochs: invalid int value: 'abc'"),
    (("train", "--preset", "seed-vae", "--frobnicate"), "unrecognized arguments: --frobnicate"),
    (("train",), "the following arguments are required: --preset"),
    (("train", "--preset", "seed-vae", "--epochs", "0"), "epochs"),
    (("train", "--preset", "seed-vae", "--device", "tpu"), "device"),
    (("train", "--preset", "seed-vae", "--dataset", "cifar"), "unknown dataset 'cifar'"),
    (("train", "--preset", "seed-mlp-ae", "--lr", "1e9"), "learning rate must be"),
    (("fly",), "invalid choice: 'fly'"),
    (("prepare", "--threads", "0"), "argument --threads: expected a whole number from 1 to 256, got '0'"),
    (("lesson-spread", "--workers", "many"), "argument --workers: expected a whole number from 1 to 256, got 'many'"),
]


@pytest.mark.parametrize("args, message", BAD)
def test_bad_flags_give_one_line_and_exit_2(args, message, tmp_path, capsys):
    code, out, err = cli(capsys, "--checkpoints", str(tmp_path / "ck"), *args)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and message in lines[0]
    assert out == ""


@pytest.mark.parametrize("args, message", [BAD[1], BAD[3]])
def test_bad_flags_in_a_real_process(args, message, tmp_path):
    p = run(*args, checkpoints=tmp_path / "ck")
    assert p.returncode == 2
    assert p.stderr.count("\n") == 1 and message in p.stderr
    assert "Traceback" not in p.stderr and p.stdout == ""


def test_fashion_offline_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AE_LAB_DATA", str(tmp_path / "data"))
    code, _, err = cli(capsys, "--checkpoints", str(tmp_path / "ck"), "train", "--preset", "seed-vae", "--dataset",
                       "fashion-mnist", "--epochs", "1")
    assert code == 2 and err.count("\n") == 1
    assert "Fashion-MNIST is not on this machine" in err


def test_checkpoints_flag_and_json_in_process(tmp_path, capsys):
    ck = tmp_path / "elsewhere"
    code, out, err = cli(capsys, "--checkpoints", str(ck), "train", "--preset", "seed-vae", "--dataset", "synthetic",
                         "--epochs", "1", "--latent-dim", "2", "--json", "--quiet")
    assert code == 0, err
    res = json.loads(out.splitlines()[-1])
    assert res["epochs"] == 1 and not res["cached"] and Path(res["checkpoint"]).is_relative_to(ck)
    assert err == ""  # --quiet: no progress bar
