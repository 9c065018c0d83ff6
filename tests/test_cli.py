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


def test_presets_lists_every_preset():
    from engine.presets import PRESETS

    p = run("presets")
    assert p.returncode == 0, p.stderr
    names = [line.split()[0] for line in p.stdout.splitlines()]
    assert names == list(PRESETS)
    assert "784-400-20" in p.stdout
    js = json.loads(run("presets", "--json").stdout)
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


def test_train_text_output_and_no_cache(tmp_path):
    ck = tmp_path / "ck"
    args = ("train", "--preset", "seed-mlp-ae", "--epochs", "1", "--dataset", "synthetic", "--latent-dim", "2",
            "--quiet")
    p = run(*args, checkpoints=ck)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("completed: run ") and "(trained)" in p.stdout and "held-out recon" in p.stdout
    assert run(*args, checkpoints=ck).stdout.count("(cached)") == 1
    assert "(trained)" in run(*args, "--no-cache", checkpoints=ck).stdout


def test_checkpoints_flag(tmp_path):
    ck = tmp_path / "elsewhere"
    p = run("--checkpoints", str(ck), "train", "--preset", "seed-vae", "--epochs", "1", "--dataset", "synthetic",
            "--json", "--quiet")
    assert p.returncode == 0, p.stderr
    assert Path(json.loads(p.stdout.splitlines()[-1])["checkpoint"]).is_relative_to(ck)


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
]


@pytest.mark.parametrize("args, message", BAD)
def test_bad_flags_give_one_line_and_exit_2(args, message, tmp_path, capsys):
    from engine.cli import main

    try:
        code = main(["--checkpoints", str(tmp_path / "ck"), *args])
    except SystemExit as e:  # argparse exits itself
        code = e.code
    err = capsys.readouterr()
    assert code == 2
    lines = err.err.strip().splitlines()
    assert len(lines) == 1, err.err
    assert lines[0].startswith("error: ") and message in lines[0]
    assert err.out == ""


@pytest.mark.parametrize("args, message", [BAD[1], BAD[2], BAD[3]])
def test_bad_flags_in_a_real_process(args, message, tmp_path):
    p = run(*args, checkpoints=tmp_path / "ck")
    assert p.returncode == 2
    assert p.stderr.count("\n") == 1 and message in p.stderr
    assert "Traceback" not in p.stderr and p.stdout == ""


def test_fashion_offline_is_a_clear_error(tmp_path):
    env_data = tmp_path / "data"
    p = subprocess.run([sys.executable, "-m", "engine", "train", "--preset", "seed-vae", "--dataset", "fashion-mnist",
                        "--epochs", "1"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                       env={**os.environ, "AE_LAB_DATA": str(env_data),
                            "AE_LAB_CHECKPOINTS": str(tmp_path / "ck")})
    assert p.returncode == 2
    assert "Fashion-MNIST is not on this machine" in p.stderr and "Traceback" not in p.stderr


def test_cli_main_in_process(tmp_path, capsys):
    from engine.cli import main

    assert main(["--checkpoints", str(tmp_path / "ck"), "train", "--preset", "seed-vae", "--dataset", "synthetic",
                 "--epochs", "1", "--latent-dim", "2", "--json", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert out["epochs"] == 1 and not out["cached"]
