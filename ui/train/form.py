"""The Train page's form without Streamlit: a preset in the form's representation, the form's values back
to RunConfig settings, and the checks made before a launch (with the model's parameter count)."""

from __future__ import annotations

from functools import lru_cache

import torch

from engine.core.config import RunConfig
from engine.core.models import build_model, cnn_problem, n_params
from engine.core.presets import PRESETS
from engine.data import DataUnavailable, load
from engine.data.ising import pending_shape
from engine.teaching.shapes import layer_widths

CUSTOM = "custom"
QUICK = {"epochs": 2, "train_limit": 2000}  # "Quick demo settings": a run that finishes in seconds on a CPU
FREE = {"name", "epochs", "train_limit", "device", "seed", "dataset"}  # changing these keeps the preset's name
BIG = 50_000_000  # parameters: warn that a laptop will struggle
SLOW_AE_STEPS = 500  # fewer optimizer steps than this: an AE on the mean MSE still draws grey blobs (say so)


def form_values(name: str) -> dict:
    """A preset's settings in the form's representation (every field of RunConfig; hidden sizes as text,
    0 for all training images)."""
    base = RunConfig().model_dump()
    base.update(PRESETS.get(name, {}))
    base["name"] = name
    base["hidden"] = ", ".join(str(h) for h in base["hidden"])
    base["train_limit"] = base["train_limit"] or 0
    return base


def to_settings(values: dict, preset: str) -> tuple[dict, list[str]]:
    """The form's values -> RunConfig settings, and the problems found reading them (one line each).
    The run keeps the preset's name while only FREE settings differ from it ('preset*' once others do)."""
    v, problems = dict(values), []
    text = str(v["hidden"]).replace(";", ",").strip()
    try:
        v["hidden"] = tuple(int(h) for h in text.split(",") if h.strip()) if text else ()
    except ValueError:
        problems.append(f"hidden layer sizes must be whole numbers separated by commas (e.g. 128, 64), "
                        f"got '{v['hidden']}'")
        v["hidden"] = ()
    v["train_limit"] = int(v["train_limit"]) if v["train_limit"] else None
    if v["train_limit"] is not None and v["train_limit"] < 0:
        problems.append("training images must be 0 (all) or a positive number")
        v["train_limit"] = None
    if preset in PRESETS:
        ref = {**RunConfig().model_dump(), **PRESETS[preset]}
        same = all(v.get(k) == (tuple(ref[k]) if k == "hidden" else ref[k]) for k in ref if k not in FREE)
        v["name"] = preset if same else f"{preset}*"
    else:
        v["name"] = CUSTOM
    return v, problems


def param_count(cfg: RunConfig, shape: tuple[int, ...]) -> int:
    """Parameters of the model `cfg` builds for images of `shape`, counted on PyTorch's meta device (no
    weights are allocated: a huge MLP costs nothing); cached per settings (every Train rerun counts them)."""
    return _params(cfg.model_dump_json(), tuple(shape))


@lru_cache(maxsize=256)
def _params(cfg_json: str, shape: tuple[int, ...]) -> int:
    with torch.device("meta"):
        return n_params(build_model(RunConfig.model_validate_json(cfg_json), shape))


def check(cfg: RunConfig) -> tuple[list[str], list[str], int | None]:
    """(problems that stop the launch, notes worth knowing, the parameter count) for `cfg` on this machine."""
    problems, notes = [], []
    if cfg.device == "cuda" and not torch.cuda.is_available():
        problems.append("device 'cuda' needs an NVIDIA GPU and none was found here: choose 'auto' or 'cpu'")
    shape, n_train = pending_shape(cfg.dataset), None
    if shape is not None:  # not sampled here, in the page's thread: the training job does it
        notes.append("This Ising set is not generated yet: the training job samples it first (about 25 s of one "
                     "core, once; then every run uses the stored set).")
    else:
        try:
            data = load(cfg.dataset)
        except DataUnavailable as e:
            return [*problems, str(e)], notes, None
        except Exception as e:  # noqa: BLE001 - a registered dataset's loader failing must not crash the page
            return [*problems, f"dataset '{cfg.dataset}' could not be loaded ({type(e).__name__}: {e})"], notes, None
        shape, n_train = data.shape, len(data.train_x)
    if cfg.arch == "cnn" and cnn_problem(shape):
        problems.append(cnn_problem(shape))
    if cfg.train_limit and n_train is not None and cfg.train_limit > n_train:
        notes.append(f"'{cfg.dataset}' has only {n_train:,} training images; all are used.")
    used = min(n_train, cfg.train_limit or n_train) if n_train else 0
    steps = cfg.epochs * -(-used // cfg.batch_size)  # batches per epoch, rounded up
    if not cfg.variational and cfg.recon_reduction == "mean" and 0 < steps < SLOW_AE_STEPS:
        notes.append(f"Only {steps:,} optimizer steps: an autoencoder trained on the mean squared error per pixel "
                     "(the lecture's nn.MSELoss) learns slowly, so expect grey blobs, not digits. A few thousand "
                     "steps (e.g. 20 epochs of all images) give rough digits; the lecture trains 100 epochs.")
    return problems, notes, None if problems else param_count(cfg, shape)


@lru_cache(maxsize=256)
def _widths(cfg_json: str, shape: tuple[int, ...]) -> tuple[dict, ...]:
    return tuple(layer_widths(RunConfig.model_validate_json(cfg_json), shape))


def network_shape(cfg: RunConfig) -> list[dict]:
    """The hourglass of `cfg`'s model on its dataset (numbers per image after each layer), cached per settings."""
    shape = pending_shape(cfg.dataset) or tuple(load(cfg.dataset).shape)
    return list(_widths(cfg.model_dump_json(), shape))
