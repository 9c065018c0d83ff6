"""The demo pack: every run the lessons (and the Applications page) need at a size, once each.

`python -m engine prepare` trains this list ahead of time so every lesson opens at once; a page button can submit
the same list to the job backend. Runs that differ only in their epoch count are listed shortest first, so that
trained in that order the longer one continues the shorter one's checkpoint instead of starting again.
"""

from __future__ import annotations

import math

from ..core.config import RunConfig
from ..core.store import Store
from ..data import load
from .applications import anomaly_specs, compression_specs
from .lessons import LESSONS, Size, lesson_runs

ANOMALY_DIGIT = 2  # the Applications page's default anomaly


def application_runs(size: Size) -> list[tuple[str, RunConfig]]:
    """The Applications page's runs (compression sweep, anomaly detection without a 2) as (role, config)."""
    return [*((f"compression/{k}", c) for k, c in compression_specs(size).items()),
            *((f"anomaly/{k}", c) for k, c in anomaly_specs(size, ANOMALY_DIGIT).items())]


def demo_pack(size: Size, applications: bool = True) -> list[tuple[str, RunConfig]]:
    """Every run to train, deduplicated, as (first lesson/role that needs it, config), shortest first within runs
    of the same settings."""
    seen: dict[str, tuple[str, RunConfig]] = {}
    for role, cfg in [*lesson_runs(size), *(application_runs(size) if applications else [])]:
        seen.setdefault(cfg.run_id(), (role, cfg))
    return sorted(seen.values(), key=lambda rc: rc[1].epochs)


def untrained(pack: list[tuple[str, RunConfig]], store: Store) -> list[tuple[str, RunConfig]]:
    """The (role, config) pairs of `pack` whose run is not complete in `store`."""
    return [rc for rc in pack if not store.is_complete(rc[1].run_id())]


def steps(cfg: RunConfig) -> int:
    """Optimizer steps of a run from scratch: a rough measure of its cost (small models cost about per step)."""
    n = cfg.train_limit or len(load(cfg.dataset).train_x)
    return cfg.epochs * math.ceil(n / cfg.batch_size)


def chains(pack: list[tuple[str, RunConfig]]) -> list[list[tuple[str, RunConfig]]]:
    """The pack grouped into chains of runs with the same settings but for the epochs, shortest first: a chain is
    trained in order by one worker, each run continuing the one before it. Longest chains (in steps) first, so
    that workers running side by side finish at about the same time."""
    groups: dict[str, list[tuple[str, RunConfig]]] = {}
    for role, cfg in pack:
        groups.setdefault(cfg.base_id(), []).append((role, cfg))
    out = [sorted(g, key=lambda rc: rc[1].epochs) for g in groups.values()]
    return sorted(out, key=lambda c: steps(c[-1][1]), reverse=True)


def lessons_of(size: Size) -> dict[str, set[str]]:
    """lesson key -> the run ids it needs (to tell when each lesson is ready)."""
    return {k: {c.run_id() for c in lesson.run_specs(size).values()} for k, lesson in LESSONS.items()}
