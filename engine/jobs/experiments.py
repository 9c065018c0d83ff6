"""Class experiments: an instructor posts a sweep over one setting ("β ∈ {0, 0.5, 1, 2, 4, 8, 16} on seed-vae,
10 epochs"); every student who opens it is given one value, balanced across the class, and trains that run.

- Assignment: the value fewest students have so far (ties: the first in the sweep), so 14 students on 7 values
  get 2 each; deterministic. A student who reloads gets the value they were given (it is stored).
  Only a student is assigned, and only themselves (`assign(user, ...)` assigns `user`); instructors train
  any value (e.g. the whole sweep, in a lecture demo or in local mode).
- A run joins the experiment when its owner launches it (`record`); identical values share one training
  through the cache, because a run's id is the hash of its config.
- Closing stops new assignments and new runs; what was recorded stays (the class's curve).
- Stored with the runs: `<checkpoints>/experiments.json`, rewritten atomically under a file lock
  (`<checkpoints>/locks/experiments.lock`), so every app process agrees and a restart keeps it.
- Everything an instructor or a student sends is checked first; a refusal is one line (ExperimentError).
"""

from __future__ import annotations

import contextlib
import math
import re
import secrets
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import filelock
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..core.config import MAX_SEED, ConfigError, RunConfig, explain
from ..core.presets import PRESETS, preset
from ..core.store import read_json, write_json
from .base import JobError
from .classroom import Policy, model_params
from .identity import User

FILE = "experiments.json"
EXP_ID = re.compile(r"x[0-9a-f]{8}")
MAX_VALUES = 16  # values in one sweep
MAX_TEXT = 400  # characters of a typed list of values
MAX_TITLE = 120
MAX_STORED = 200  # experiments kept (open and closed)
MAX_JOINED = 5000  # students assigned to one experiment
LOCK_WAIT_S = 10.0


class ExperimentError(JobError):
    """A request about a class experiment that is refused; the message (one line) says what to change."""


@dataclass(frozen=True)
class Sweepable:
    label: str  # how the pages name it
    kind: type  # int or float
    low: float
    high: float
    variational: bool = False  # only a VAE has it


SETTINGS: dict[str, Sweepable] = {
    "beta": Sweepable("β", float, 0.0, 1000.0, variational=True),
    "latent_dim": Sweepable("latent size", int, 1, 256),
    "lr": Sweepable("learning rate", float, 1e-5, 1.0),
    "seed": Sweepable("seed", int, 0, MAX_SEED),
}


class Experiment(BaseModel):
    """One posted sweep, its assignments (identity -> index into `values`) and the runs it took."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=EXP_ID.pattern)
    title: str = Field(max_length=MAX_TITLE)
    preset: str
    setting: str
    values: list[float] = Field(min_length=2, max_length=MAX_VALUES)
    epochs: int = Field(ge=1, le=1000)
    train_limit: int | None = Field(None, ge=1, le=10_000_000)
    author: str
    created: float
    closed: bool = False
    closed_at: float | None = None
    assigned: dict[str, int] = Field(default_factory=dict)
    runs: list[dict] = Field(default_factory=list)  # {"who", "index", "run_id", "at"}: launched for the experiment

    def value(self, index: int) -> float | int:
        v = self.values[index]
        return int(v) if SETTINGS[self.setting].kind is int else v

    def label(self, index: int) -> str:
        """e.g. 'β = 0.5'."""
        return f"{SETTINGS[self.setting].label} = {self.value(index):g}"

    def config(self, index: int) -> RunConfig:
        """The run of value `index`: the preset with the experiment's epochs (and images) and that value."""
        return preset(self.preset, epochs=self.epochs, train_limit=self.train_limit,
                      **{self.setting: self.value(index)})

    def run_ids(self) -> list[str]:
        return [self.config(i).run_id() for i in range(len(self.values))]

    def counts(self) -> list[int]:
        """Students assigned to each value."""
        n = [0] * len(self.values)
        for i in self.assigned.values():
            n[i] += 1
        return n


def _shown(text: object, n: int = 40) -> str:
    return "".join(c if c.isprintable() else "?" for c in str(text))[:n]


def parse_values(raw: str | Sequence, setting: str) -> list[float | int]:
    """The sweep's values from what an instructor typed ("0, 0.5, 1, 2") or sent (a list), checked: numbers,
    finite, in the setting's range, whole for whole-number settings, 2 to MAX_VALUES of them, no repeats;
    sorted. ExperimentError with one line otherwise."""
    if setting not in SETTINGS:
        raise ExperimentError(f"'{_shown(setting)}' cannot be swept: choose one of {', '.join(SETTINGS)}")
    s = SETTINGS[setting]
    if isinstance(raw, str):
        if len(raw) > MAX_TEXT:
            raise ExperimentError(f"the list of values is {len(raw):,} characters long (at most {MAX_TEXT}): "
                                  f"give at most {MAX_VALUES} values")
        items: list = [t for t in re.split(r"[,;\s]+", raw.strip()) if t]
    elif isinstance(raw, list | tuple):
        items = list(raw)
    else:
        raise ExperimentError("the values must be a list of numbers, e.g. 0, 0.5, 1, 2")
    if len(items) > MAX_VALUES:
        raise ExperimentError(f"{len(items):,} values is too many for one sweep: give at most {MAX_VALUES}")
    out: list[float | int] = []
    for t in items:
        out.append(_one_value(t, s))
    if len(set(out)) != len(out):
        raise ExperimentError("a value is listed twice: give each value once")
    if len(out) < 2:
        raise ExperimentError("a sweep needs at least 2 values, separated by commas (e.g. 0, 1, 4)")
    return sorted(out)


def _one_value(t: object, s: Sweepable) -> float | int:
    try:
        if isinstance(t, bool):
            raise ValueError
        v = float(t)
    except (TypeError, ValueError):
        raise ExperimentError(f"'{_shown(t)}' is not a number: write the values separated by commas, "
                              "e.g. 0, 0.5, 1, 2") from None
    if not math.isfinite(v) or not s.low <= v <= s.high:
        raise ExperimentError(f"{s.label} = {_shown(t)} is out of range: use values from {s.low:g} to {s.high:g}")
    if s.kind is int:
        if v != int(v):
            raise ExperimentError(f"{s.label} takes whole numbers, got {_shown(t)}")
        return int(v)
    return v


def check_sweep(exp: Experiment, policy: Policy) -> None:
    """Every value makes a valid run within the class limits (so no student is handed a run they may not
    train); ExperimentError with one line naming the first that does not."""
    spec = SETTINGS[exp.setting]
    if spec.variational and not PRESETS[exp.preset].get("variational"):
        raise ExperimentError(f"{exp.preset} is an autoencoder without a KL term, so {spec.label} does nothing: "
                              "sweep it on a VAE preset (seed-vae, conv-vae)")
    if exp.epochs > policy.max_epochs:
        raise ExperimentError(f"{exp.epochs} epochs is over this class's limit of {policy.max_epochs}: "
                              "lower the epochs (or raise the limit)")
    for i in range(len(exp.values)):
        try:
            cfg = exp.config(i)
        except ConfigError as e:
            raise ExperimentError(f"{exp.label(i)} makes no valid run: {e}") from None
        if policy.datasets and cfg.dataset not in policy.datasets:
            raise ExperimentError(f"dataset '{cfg.dataset}' is not enabled for this class")
        n = model_params(cfg)
        if n > policy.max_params:
            raise ExperimentError(f"with {exp.label(i)} the model has {n:,} parameters, over the class limit of "
                                  f"{policy.max_params:,}: drop that value")


class Experiments:
    """The class's experiments in the checkpoint store at `root` (the runs' folder)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.path = self.root / FILE

    # ---- reading -----------------------------------------------------------------------------------------
    def _load(self) -> list[Experiment]:
        if not self.path.exists():
            return []
        try:
            data = read_json(self.path)
            return [Experiment(**e) for e in data["experiments"]]
        except (ValueError, KeyError, TypeError, ValidationError) as e:
            why = explain(e) if isinstance(e, ValidationError) else type(e).__name__
            raise ExperimentError(f"{FILE} in the checkpoint folder is damaged ({_shown(why, 120)}): "
                                  "an instructor can move it away to start afresh") from None

    def all(self) -> list[Experiment]:
        """Every experiment, newest first."""
        return sorted(self._load(), key=lambda e: e.created, reverse=True)

    def current(self) -> Experiment | None:
        """The open experiment (there is at most one), or None."""
        return next((e for e in self.all() if not e.closed), None)

    def get(self, exp_id: object) -> Experiment:
        for e in self._load() if isinstance(exp_id, str) and EXP_ID.fullmatch(exp_id) else []:
            if e.id == exp_id:
                return e
        raise ExperimentError(f"no experiment '{_shown(exp_id)}': see the Class page for the class's experiments")

    # ---- writing (one writer at a time, whole file replaced atomically) ------------------------------------
    @contextlib.contextmanager
    def _editing(self) -> Iterator[list[Experiment]]:
        (self.root / "locks").mkdir(parents=True, exist_ok=True)
        try:
            with filelock.FileLock(self.root / "locks" / "experiments.lock", timeout=LOCK_WAIT_S):
                exps = self._load()
                yield exps
                write_json(self.path, {"experiments": [e.model_dump(mode="json") for e in exps]})
        except filelock.Timeout:
            raise ExperimentError("the class's experiments are busy being saved: try again in a moment") from None

    @staticmethod
    def _find(exps: list[Experiment], exp_id: object) -> Experiment:
        e = next((e for e in exps if e.id == exp_id), None)
        if e is None:
            raise ExperimentError(f"no experiment '{_shown(exp_id)}': see the Class page for the class's experiments")
        return e

    def post(self, user: User, title: str, preset_name: str, setting: str, values: str | Sequence, epochs: int,
             train_limit: int | None = None, policy: Policy | None = None) -> Experiment:
        """An instructor posts a sweep (one open experiment at a time)."""
        if not user.instructor:
            raise ExperimentError("only an instructor can post a class experiment")
        title = " ".join(_shown(title, 10_000).split()) if isinstance(title, str) else ""
        if not title or len(title) > MAX_TITLE:
            raise ExperimentError(f"give the experiment a title of 1 to {MAX_TITLE} characters")
        if not isinstance(preset_name, str) or preset_name not in PRESETS:
            raise ExperimentError(f"unknown preset '{_shown(preset_name)}': choose one of {', '.join(PRESETS)}")
        vals = parse_values(values, setting)
        try:
            exp = Experiment(id="x" + secrets.token_hex(4), title=title, preset=preset_name, setting=setting,
                             values=vals, epochs=epochs, train_limit=train_limit or None, author=user.name,
                             created=time.time())
        except ValidationError as e:
            raise ExperimentError(explain(e)) from None
        check_sweep(exp, policy or Policy.load(self.root))
        with self._editing() as exps:
            if any(not e.closed for e in exps):
                raise ExperimentError("an experiment is open already: close it before posting the next one")
            if len(exps) >= MAX_STORED:
                raise ExperimentError(f"{MAX_STORED} experiments are stored: move {FILE} away to start afresh")
            exps.append(exp)
        return exp

    def close(self, user: User, exp_id: str) -> Experiment:
        if not user.instructor:
            raise ExperimentError("only an instructor can close a class experiment")
        with self._editing() as exps:
            e = self._find(exps, exp_id)
            if not e.closed:
                e.closed, e.closed_at = True, time.time()
        return e

    def assign(self, user: User, exp_id: str) -> int:
        """The index of the value `user` (a student) trains: given once, then the same on every reload."""
        if user.instructor:
            raise ExperimentError("instructors are not assigned a value: train any value (or the whole sweep) "
                                  "from the Class page")
        e = self.get(exp_id)
        if user.name in e.assigned:  # the common case (every Train page run) reads without the lock
            return e.assigned[user.name]
        with self._editing() as exps:
            e = self._find(exps, exp_id)
            if user.name in e.assigned:
                return e.assigned[user.name]
            if e.closed:
                raise ExperimentError(f"the experiment '{e.title}' is closed: it takes no new students")
            if len(e.assigned) >= MAX_JOINED:
                raise ExperimentError(f"the experiment '{e.title}' has {MAX_JOINED} students already")
            counts = e.counts()
            index = counts.index(min(counts))  # the least-assigned value; ties: the first
            e.assigned[user.name] = index
        return index

    def assigned(self, user: User, exp_id: str) -> int | None:
        """The value index given to `user` already, without giving one."""
        return self.get(exp_id).assigned.get(user.name)

    def record(self, user: User, exp_id: str, run_id: str) -> int:
        """`user` launched `run_id` for the experiment: it joins the class's curve. A student's run must be
        their assigned value's; an instructor's, any value's. Returns the value's index."""
        with self._editing() as exps:
            e = self._find(exps, exp_id)
            if e.closed:
                raise ExperimentError(f"the experiment '{e.title}' is closed: it takes no new runs")
            ids = e.run_ids()
            if user.instructor:
                if run_id not in ids:
                    raise ExperimentError("this run is none of the experiment's values")
                index = ids.index(run_id)
            else:
                index = e.assigned.get(user.name, -1)
                if index < 0:
                    raise ExperimentError("you have no value in this experiment yet: open the Train page")
                if ids[index] != run_id:
                    raise ExperimentError(f"this run is not your class experiment's ({e.label(index)}): "
                                          "reset the Train page to the class experiment")
            if not any(r["who"] == user.name and r["index"] == index for r in e.runs):
                e.runs.append({"who": user.name, "index": index, "run_id": run_id, "at": time.time()})
        return index
