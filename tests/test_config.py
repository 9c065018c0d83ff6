"""RunConfig validation (readable messages) and the run identity."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.core.config import ConfigError, RunConfig, make_config
from engine.core.presets import preset

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "fields, message",
    [
        (dict(variational=True, output="sigmoid", recon="bce", beta=-1), "beta must be ≥ 0"),
        (dict(variational=True, output="sigmoid", recon="bce", beta=float("nan")), "beta must be ≥ 0"),
        (dict(variational=True, output="sigmoid", recon="bce", beta=5000), "beta must be ≤ 1000"),
        (dict(lr=0), "learning rate must be > 0"),
        (dict(lr=100), "learning rate must be > 0 and ≤ 10"),
        (dict(weight_decay=-0.1), "weight decay must be ≥ 0"),
        (dict(noise_std=3), "Gaussian noise std must be between 0 and 2"),
        (dict(noise_kind="mask", noise_std=1.0), "masking probability must be between 0 and 1"),
        (dict(contractive_weight=-1), "contractive weight must be a finite number ≥ 0"),
        (dict(contractive_weight=float("inf")), "contractive weight must be a finite number ≥ 0"),
        (dict(variational=True, output="sigmoid", recon="bce", contractive_weight=1.0),
         "contractive weight needs an autoencoder with a deterministic encoder"),
        (dict(sparsity_weight=-1, latent_activation="sigmoid"), "sparsity weight must be a finite number ≥ 0"),
        (dict(sparsity_target=1.0), "sparsity target rho must be strictly between 0 and 1"),
        (dict(sparsity_weight=1.0), "sparsity needs latent activations in (0, 1)"),
        (dict(sparsity_weight=1.0, latent_activation="sigmoid", variational=True, output="sigmoid", recon="bce"),
         "sparsity applies to deterministic autoencoders"),
        (dict(variational=True, latent_activation="relu"), "a VAE's latent is a Gaussian sample"),
        (dict(recon="bce", output="tanh"), "BCE reconstruction needs outputs in [0, 1]"),
        (dict(hidden=(0,)), "hidden layer sizes must be between 1 and 8192"),
        (dict(hidden=(8,) * 9), "at most 8 hidden layers"),
        (dict(beta_warmup_epochs=3), "beta warm-up only applies to a VAE"),
        (dict(dataset="cifar"), "unknown dataset 'cifar'; choose one of: mnist, fashion-mnist, synthetic"),
        (dict(colour="red"), "unknown setting 'colour'"),
        (dict(epochs=0), "epochs: Input should be greater than or equal to 1"),
        (dict(device="gpu"), "device: Input should be 'auto', 'cpu' or 'cuda'"),
    ],
)
def test_invalid_configs_say_what_to_change(fields, message):
    with pytest.raises(ConfigError) as e:
        make_config(**fields)
    text = str(e.value)
    assert message in text
    assert "\n" not in text  # one line
    assert "pydantic" not in text and "errors.pydantic.dev" not in text


def test_several_problems_are_reported_together():
    with pytest.raises(ConfigError) as e:
        make_config(lr=-1, weight_decay=2)
    assert "learning rate" in str(e.value) and "weight decay" in str(e.value)


def test_preset_overrides_are_validated():
    with pytest.raises(ConfigError, match="beta must be ≥ 0"):
        preset("seed-vae", beta=-0.5)
    with pytest.raises(ConfigError, match="unknown preset 'nope'; choose one of: seed-mlp-ae"):
        preset("nope")
    for name in ([1], {"a": 1}, None, 3):  # e.g. from a hand-written JSON config: one line, not a TypeError
        with pytest.raises(ConfigError, match="unknown preset .*; choose one of: seed-mlp-ae"):
            preset(name)


def test_config_is_frozen():
    cfg = make_config()
    with pytest.raises(Exception):  # noqa: B017 - pydantic raises its own ValidationError for frozen models
        cfg.beta = 2.0  # type: ignore[misc]


# ---- run identity ------------------------------------------------------------------------------


def test_run_id_ignores_order_label_and_device():
    a = make_config(dataset="synthetic", latent_dim=4, lr=1e-3, hidden=(32,))
    b = make_config(hidden=[32], lr=0.001, latent_dim=4, dataset="synthetic")  # other order, list vs tuple
    assert a.run_id() == b.run_id()
    assert a.run_id() == make_config(**{**a.model_dump(), "name": "my run", "device": "cpu"}).run_id()


@pytest.mark.parametrize(
    "change",
    [dict(latent_dim=5), dict(beta=0.5), dict(lr=2e-3), dict(seed=1), dict(batch_size=64), dict(hidden=(16,)),
     dict(train_limit=100), dict(weight_decay=1e-5), dict(recon_reduction="mean"), dict(noise_std=0.1)],
)
def test_run_id_changes_with_result_relevant_fields(change):
    base = dict(dataset="synthetic", variational=True, output="sigmoid", recon="bce", latent_dim=4, hidden=(32,))
    assert make_config(**base).run_id() != make_config(**{**base, **change}).run_id()


def test_epochs_change_run_id_but_not_base_id():
    a, b = make_config(epochs=1), make_config(epochs=2)
    assert a.run_id() != b.run_id()
    assert a.base_id() == b.base_id()
    assert a.run_id() == f"{a.base_id()}-e1"


def test_run_id_is_stable_across_processes():
    cfg = preset("seed-vae", epochs=3)
    code = ("from engine.core.presets import preset; import json; "
            "c = preset('seed-vae', epochs=3); print(json.dumps([c.run_id(), c.base_id()]))")
    ids = set()
    for hashseed in ("1", "2"):
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                             env={"PYTHONHASHSEED": hashseed, "PATH": "/usr/bin:/bin",
                                  "AE_LAB_DATA": str(ROOT / "tests" / "_no_full_data")})
        ids.add(tuple(json.loads(out.stdout.strip().splitlines()[-1])))
    assert ids == {(cfg.run_id(), cfg.base_id())}


def test_config_roundtrips_through_json():
    cfg = preset("sparse-ae", epochs=2)
    again = RunConfig(**json.loads(json.dumps(cfg.model_dump(mode="json"))))
    assert again == cfg and again.run_id() == cfg.run_id()
