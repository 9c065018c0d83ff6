"""What every lesson is made of: sizes, the runs by role, seed replicas, the config-difference table, error bars.

A lesson compares *arms* (roles such as "mlp" and "cnn", one RunConfig each). Arms whose difference is small
next to the seed-to-seed spread are trained at several seeds (`Lesson.replicated`): the replicas are the same
config with another `seed`, stored under the keys "arm", "arm#1", "arm#2". A `Comparison` names the fields that
differ between its arms; `config_diff` computes that table from the configs themselves.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import torch

from ...core.config import RunConfig
from ...core.evaluation import to_uint8
from ...core.models import build_model, n_params
from ...core.store import Store
from ...data import load

Size = Literal["test", "cpu", "gpu"]
SIZES = ("test", "cpu", "gpu")
# What a page offers. "test" trains less than some claims need (the samples stay blobs): unit tests of the plumbing
# only, never shown to a student.
OFFERED_SIZES = ("cpu", "gpu")
SEEDS = (0, 1, 2)
SEPARATED = 3.0  # a gap above this many seed spreads needs no error bars (issue 14's rule)
N_SHOW = 8  # held-out digits shown side by side


def default_size() -> Size:
    """'gpu' where CUDA is available (longer runs), else 'cpu'."""
    return "gpu" if torch.cuda.is_available() else "cpu"


def budget(size: Size) -> dict:
    """Training data and epochs per size. Lessons scale these to what their claim needs (see each lesson's specs).
    'gpu' only adds epochs: a gpu-size run continues the cpu-size run of the same settings."""
    return {"test": dict(train_limit=2000, epochs=3),
            "cpu": dict(train_limit=None, epochs=10),
            "gpu": dict(train_limit=None, epochs=30)}[size]


def scaled(size: Size, cpu_epochs: int, **fields) -> dict:
    """`budget(size)` with the epoch count a lesson needs on a CPU (the other sizes scale with it)."""
    b = budget(size)
    return {**b, "epochs": max(1, round(b["epochs"] * cpu_epochs / 10)), **fields}


# ---- access to a lesson's trained runs -----------------------------------------------------------
class Runs:
    """A lesson's runs by role (e.g. "mlp", "cnn", "cnn#1"), read from the checkpoint store.

    `loader(run_id) -> (cfg, model)` can be replaced (the app passes a cached loader)."""

    def __init__(self, specs: dict[str, RunConfig], store: Store | None = None,
                 loader: Callable[[str], tuple] | None = None):
        self.specs = specs
        self.store = store or Store()
        self._loader = loader or self.store.load_model
        self._models: dict[str, tuple] = {}

    def run_id(self, key: str) -> str:
        return self.specs[key].run_id()

    def complete(self) -> bool:
        return all(self.store.is_complete(c.run_id()) for c in self.specs.values())

    def missing(self) -> list[str]:
        return [k for k, c in self.specs.items() if not self.store.is_complete(c.run_id())]

    def model(self, key: str):
        """(cfg, model in eval mode)."""
        if key not in self._models:
            self._models[key] = self._loader(self.run_id(key))
        return self._models[key]

    def replicas(self, arm: str) -> list[str]:
        """The keys of an arm's runs: the arm itself and its seed replicas, if it has any."""
        return [arm, *(k for k in self.specs if k.startswith(f"{arm}#"))]

    def history(self, key: str) -> dict:
        return self.store.history(self.run_id(key))

    def snapshots(self, key: str) -> list[tuple[int, dict]]:
        rid = self.run_id(key)
        return [(e, self.store.snapshot(rid, e)) for e in self.store.snapshot_epochs(rid)]

    def heldout(self, key: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Held-out images in [0, 1] and labels of the run's dataset (never trained on)."""
        d = load(self.specs[key].dataset)
        return d.test_x, d.test_y


# ---- helpers (shared with engine.teaching.applications) ----------------------------------------
def sq_err(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Squared error per image, summed over pixels in [0, 1] (the unit of the held-out `mse01`)."""
    return (a - b).pow(2).flatten(1).sum(1)


def u8(x01: torch.Tensor) -> torch.Tensor:
    return to_uint8(x01)


def named(cfg: RunConfig, label: str) -> RunConfig:
    """`cfg` with another display name (the name is not part of the run's identity)."""
    return cfg.model_copy(update={"name": label})


def with_seeds(arms: dict[str, RunConfig], replicated: tuple[str, ...], seeds: tuple[int, ...] = SEEDS
               ) -> dict[str, RunConfig]:
    """Every arm, plus one run per further seed of the arms in `replicated` (keys "arm#1", "arm#2", ...)."""
    out = dict(arms)
    for arm in replicated:
        base = arms[arm]
        for i, s in enumerate(seeds[1:], start=1):
            out[f"{arm}#{i}"] = base.model_copy(update={"seed": base.seed + s})
    return out


def n_weights(cfg: RunConfig) -> int:
    """Number of trainable parameters of the model `cfg` builds (no training needed)."""
    return n_params(build_model(cfg, load(cfg.dataset).shape))


def seed_stats(values: list[float]) -> dict:
    """Mean and seed-to-seed spread (sample standard deviation; 0 for a single run) of one number over seeds."""
    return {"mean": statistics.fmean(values), "spread": statistics.stdev(values) if len(values) > 1 else 0.0,
            "n": len(values), "values": list(values)}


def separated(a: dict, b: dict, k: float = SEPARATED) -> bool:
    """Whether two `seed_stats` differ by more than k times the larger seed spread (a claim that needs no caveat)."""
    return abs(a["mean"] - b["mean"]) > k * max(a["spread"], b["spread"])


# ---- what differs between the runs a lesson compares --------------------------------------------
@dataclass(frozen=True)
class Comparison:
    """Arms compared with each other, the config fields that differ between them, and why (when more than one)."""

    arms: tuple[str, ...]
    changes: tuple[str, ...]
    why: str = ""


SKIP = {"name", "device", "seed"}  # labels, hardware and the seed (replicas) are not what a lesson compares
FIELD_NAMES = {"arch": "architecture", "hidden": "hidden layers", "latent_dim": "code size (numbers)",
               "variational": "variational (sampled code + KL)", "beta": "β (weight of the KL)",
               "noise_std": "input noise (std)", "contractive_weight": "contractive weight",
               "sparsity_weight": "sparsity weight", "sparsity_form": "sparsity form", "train_limit": "training digits",
               "epochs": "epochs", "lr": "learning rate", "batch_size": "batch size", "dataset": "data"}


def differing_fields(cfgs: list[RunConfig]) -> list[str]:
    """The RunConfig fields (in declaration order) whose values are not the same in all `cfgs`."""
    dumps = [c.model_dump(mode="json") for c in cfgs]
    return [f for f in RunConfig.model_fields
            if f not in SKIP and len({json.dumps(d[f]) for d in dumps}) > 1]


def _fmt(v) -> str:
    if isinstance(v, list | tuple):
        return "–".join(map(str, v)) or "none"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def config_diff(arms: dict[str, RunConfig], labels: dict[str, str] | None = None) -> list[dict]:
    """A table, one row per setting that differs between the arms, plus two derived facts that matter when models
    are compared: the code size and the number of weights. Rows: {"field", "setting", "kind", <arm label>: text}
    ("kind": "setting" for a config field that differs, "derived" for a computed fact). Values are strings so a
    page can draw the rows as they are."""
    labels = labels or {}
    col = {k: labels.get(k, k) for k in arms}
    rows = [{"field": f, "setting": FIELD_NAMES.get(f, f), "kind": "setting",
             **{col[k]: _fmt(getattr(c, f)) for k, c in arms.items()}} for f in differing_fields(list(arms.values()))]
    if not any(r["field"] == "latent_dim" for r in rows):
        rows.append({"field": "latent_dim", "setting": FIELD_NAMES["latent_dim"], "kind": "derived",
                     **{col[k]: str(c.latent_dim) for k, c in arms.items()}})
    rows.append({"field": "parameters", "setting": "weights (parameters)", "kind": "derived",
                 **{col[k]: f"{n_weights(c):,}" for k, c in arms.items()}})
    return rows


# ---- a lesson ------------------------------------------------------------------------------------
@dataclass
class Lesson:
    key: str
    title: str
    claim: str
    why: str
    specs: Callable[[Size], dict[str, RunConfig]]  # the arms: one config per role
    evidence: Callable[..., dict]
    note: str = ""  # what was changed from the lecture's settings, and why
    params: dict = field(default_factory=dict)  # evidence keyword arguments the page exposes (defaults)
    comparisons: tuple[Comparison, ...] = ()
    replicated: tuple[str, ...] = ()  # arms trained at every seed in SEEDS (their evidence carries error bars)
    labels: dict[str, str] = field(default_factory=dict)  # arm -> what a page calls it
    sizes: tuple[str, ...] = OFFERED_SIZES  # sizes at which the evidence shows the claim (measured, tested)

    def run_specs(self, size: Size) -> dict[str, RunConfig]:
        """Every run the lesson trains: the arms and their seed replicas."""
        return with_seeds(self.specs(size), self.replicated)

    def runs(self, size: Size | None = None, store: Store | None = None, loader=None) -> Runs:
        return Runs(self.run_specs(size or default_size()), store, loader)

    def diffs(self, size: Size | None = None) -> list[dict]:
        """One table per comparison: {"arms", "changes", "why", "rows"} (rows from `config_diff`)."""
        arms = self.specs(size or default_size())
        return [{"arms": list(c.arms), "changes": list(c.changes), "why": c.why,
                 "rows": config_diff({a: arms[a] for a in c.arms}, self.labels)} for c in self.comparisons]
