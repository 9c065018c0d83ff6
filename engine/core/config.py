"""Run configuration: everything that defines a training run, validated with messages a student understands."""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..data import LOADERS, variant

Arch = Literal["mlp", "cnn"]
Recon = Literal["mse", "bce"]
Reduction = Literal["sum", "mean"]
Output = Literal["tanh", "sigmoid"]
LatentActivation = Literal["none", "sigmoid", "relu"]
NoiseKind = Literal["gaussian", "mask"]
SparsityForm = Literal["per_unit", "lecture"]
Device = Literal["auto", "cpu", "cuda"]

# Fields that do not change what is learned: left out of the run's identity.
NOT_IDENTITY = {"name", "device", "epochs"}
# Seeds are 32-bit: the trainer seeds epoch e with seed * 100_003 + e, which must stay below 2**63 (torch
# accepts seeds up to 2**64 - 1; numpy's legacy RandomState only up to 2**32 - 1).
MAX_SEED = 2**32 - 1
# Dataset names as every dataset family spells them ("mnist", "ising-<hash>", "upload-<hash>",
# "mnist-without-3"): no dots or slashes, so no name can point a dataset resolver outside its folder.
DATASET_NAME = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
# Fields added after run ids were first handed out: left out of the identity while they have these (old) values,
# so every run stored before the field existed keeps its id; any other value is part of the identity.
ADDED_LATER = {"sparsity_form": "per_unit"}


class ConfigError(ValueError):
    """A config the engine refuses, with a one-line message saying what to change."""


class RunConfig(BaseModel):
    """One training run. Presets in `engine.core.presets` fill it with the lecture's exact settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field("custom", max_length=200, description="label shown in the app; not part of the run identity")
    dataset: str = Field("mnist", max_length=100,
                         description="mnist | fashion-mnist | synthetic | a registered dataset")
    train_limit: int | None = Field(None, ge=1, le=10_000_000,
                                    description="use only the first N training images (quick runs)")

    arch: Arch = "mlp"
    variational: bool = False
    hidden: tuple[int, ...] = Field((128, 64, 12), description="MLP encoder hidden sizes; the decoder mirrors them")
    latent_dim: int = Field(3, ge=1, le=4096)
    latent_activation: LatentActivation = "none"
    output: Output = "tanh"

    recon: Recon = "mse"
    recon_reduction: Reduction = Field(
        "sum",
        description="sum: per-image sum over pixels; mean: nn.MSELoss-style mean over pixels (the lecture's AE code)",
    )
    beta: float = Field(1.0, description="weight of the KL term (VAEs)")
    beta_warmup_epochs: int = Field(0, ge=0, le=1000, description="ramp beta linearly from 0 over this many epochs")
    noise_std: float = Field(0.0, description="denoising: corruption strength (Gaussian std, or masking probability)")
    noise_kind: NoiseKind = "gaussian"
    contractive_weight: float = 0.0
    sparsity_weight: float = 0.0
    sparsity_target: float = Field(0.05, description="target mean activation rho of each latent unit")
    sparsity_form: SparsityForm = Field(
        "per_unit",
        description="per_unit: each unit's mean over the batch is pulled to rho (Ng); lecture: each input's mean over "
                    "the units is pulled to rho (the slides' rho_k(x))",
    )

    lr: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = Field(128, ge=1, le=65536)
    epochs: int = Field(10, ge=1, le=1000)
    seed: int = Field(0, ge=0, le=MAX_SEED, description="random seed, 0 to 2**32 - 1")
    device: Device = "auto"

    @model_validator(mode="after")
    def _check(self) -> RunConfig:
        problems = list(_problems(self))
        if problems:
            raise ValueError("; ".join(problems))
        return self

    # ---- identity -------------------------------------------------------------------------
    def identity(self) -> dict:
        """The fields that determine the result (not device, label or epoch count)."""
        d = {k: v for k, v in self.model_dump(mode="json").items()
             if k not in NOT_IDENTITY and (k not in ADDED_LATER or ADDED_LATER[k] != v)}
        resolved = variant(self.dataset)
        if resolved != self.dataset:  # e.g. the full MNIST instead of the bundled test set
            d["data"] = resolved
        return d

    def base_id(self) -> str:
        """Same for runs that differ only in epoch count: a longer run can continue a shorter one."""
        return _digest(self.identity())

    def run_id(self) -> str:
        """The run's identity: a stable hash of everything that matters for the weights after `epochs`."""
        return f"{self.base_id()}-e{self.epochs}"

    def short(self) -> str:
        kind = ("vae" if self.variational else "ae")
        return f"{self.name} · {self.arch}-{kind} · z={self.latent_dim} · {self.epochs} ep"


def _digest(obj: dict) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:12]


def _dataset_problems(c: RunConfig):
    if not DATASET_NAME.fullmatch(c.dataset):  # checked before any resolver sees the name
        shown = "".join(ch if ch.isprintable() else "?" for ch in c.dataset)[:40]
        yield (f"'{shown}' is not a dataset name (lowercase letters, digits and '-'); "
               f"choose one of: {', '.join(LOADERS)}")
    elif c.dataset not in LOADERS:
        yield f"unknown dataset '{c.dataset}'; choose one of: {', '.join(LOADERS)}"


# (is this config refused?, why, in one line saying what to change). NaN fails every `a <= x` test, so the
# range checks are written to refuse it.
RULES: list[tuple[Callable[[RunConfig], bool], Callable[[RunConfig], str]]] = [
    (lambda c: not c.beta >= 0, lambda c: f"beta must be ≥ 0 (it weighs the KL term), got {c.beta}"),
    (lambda c: c.beta > 1000, lambda c: f"beta must be ≤ 1000, got {c.beta}"),
    (lambda c: not 0 < c.lr <= 10, lambda c: f"learning rate must be > 0 and ≤ 10, got {c.lr}"),
    (lambda c: not 0 <= c.weight_decay < 1, lambda c: f"weight decay must be ≥ 0 and < 1, got {c.weight_decay}"),
    (lambda c: c.noise_kind == "gaussian" and not 0 <= c.noise_std <= 2,
     lambda c: f"Gaussian noise std must be between 0 and 2 (pixels are in [0, 1]), got {c.noise_std}"),
    (lambda c: c.noise_kind == "mask" and not 0 <= c.noise_std < 1,
     lambda c: f"masking probability must be between 0 and 1, got {c.noise_std}"),
    (lambda c: not 0 <= c.contractive_weight < math.inf,
     lambda c: f"contractive weight must be a finite number ≥ 0, got {c.contractive_weight}"),
    (lambda c: c.contractive_weight > 0 and c.variational,
     lambda c: "contractive weight needs an autoencoder with a deterministic encoder: turn off 'variational'"),
    (lambda c: not 0 <= c.sparsity_weight < math.inf,
     lambda c: f"sparsity weight must be a finite number ≥ 0, got {c.sparsity_weight}"),
    (lambda c: not 0 < c.sparsity_target < 1,
     lambda c: f"sparsity target rho must be strictly between 0 and 1, got {c.sparsity_target}"),
    (lambda c: c.sparsity_weight > 0 and c.latent_activation != "sigmoid",
     lambda c: "sparsity needs latent activations in (0, 1): set the latent activation to 'sigmoid'"),
    (lambda c: c.sparsity_weight > 0 and c.variational,
     lambda c: "sparsity applies to deterministic autoencoders: turn off 'variational' "
               "(the KL term already regularizes a VAE)"),
    (lambda c: c.variational and c.latent_activation != "none",
     lambda c: "a VAE's latent is a Gaussian sample: set the latent activation to 'none'"),
    (lambda c: c.recon == "bce" and c.output != "sigmoid",
     lambda c: "BCE reconstruction needs outputs in [0, 1]: choose the 'sigmoid' output (Tanh outputs [-1, 1])"),
    (lambda c: any(h < 1 or h > 8192 for h in c.hidden),
     lambda c: f"hidden layer sizes must be between 1 and 8192, got {list(c.hidden)}"),
    (lambda c: c.arch == "mlp" and len(c.hidden) > 8, lambda c: f"at most 8 hidden layers, got {len(c.hidden)}"),
    (lambda c: c.beta_warmup_epochs and not c.variational,
     lambda c: "beta warm-up only applies to a VAE: set it to 0 or turn on 'variational'"),
]


def _problems(c: RunConfig):
    yield from _dataset_problems(c)
    yield from (why(c) for refused, why in RULES if refused(c))


def make_config(**fields) -> RunConfig:
    """Build a RunConfig, turning pydantic's errors into one readable ConfigError line."""
    try:
        return RunConfig(**fields)
    except ValidationError as e:
        raise ConfigError(explain(e)) from None


def explain(e: ValidationError) -> str:
    parts = []
    for err in e.errors():
        loc = ".".join(str(x) for x in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = f"unknown setting '{loc}'"
        elif loc:
            msg = f"{loc}: {msg}"
        parts.append(msg)
    return "; ".join(parts)
