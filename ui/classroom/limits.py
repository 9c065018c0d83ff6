"""Work that runs in a page's own thread, bounded so that no student can hold the server for minutes.

- Everything here runs in one of the server's few page-work slots (`bounded`): a request that finds them busy
  waits a little, then is told to try again, instead of piling up threads that share the same cores.
- Ising sets (`ising_refusal`): generating one is a deterministic function of its settings, cached on disk and
  shared by the class, so students pick among the sets generated already; in classroom mode a student may
  generate a new set only when it is small (STUDENT_ISING_COST spin updates, about 2 s of one core).
  Instructors (and the local user) generate any set; before class, `python -m engine ising` does it too.
- Graph autoencoders (`graph_refusal`): a few seconds at most (bounded sizes, fewer epochs for classroom
  students), and the Graph AE page caches each result for everyone who asks for the same settings.
These checks are made by the server when the work is asked for, whatever a widget allowed.
"""

from __future__ import annotations

import os
import threading

import streamlit as st

from engine.data.ising import IsingParams, cost

from ..access.auth import current_user
from ..access.mode import classroom_enabled

PAGE_WORK_SLOTS = max(1, (os.cpu_count() or 2) // 2)  # page-thread computations at once, for the whole server
PAGE_WORK_WAIT_S = 20.0  # how long a request waits for a slot before it is told to try again
STUDENT_ISING_COST = 60_000_000  # spin updates (ising.cost); the page's default set is ~530 M, 25 s of one core
GRAPH = {"L": (4, 16), "epochs": (10, 500), "hidden": (8, 64), "latent": (2, 16), "seed": (0, 10_000)}
STUDENT_GRAPH_EPOCHS = 200  # classroom students: ~2 s of one core on the largest lattice


class Busy(RuntimeError):
    """Every page-work slot stayed taken for PAGE_WORK_WAIT_S; the message says to try again."""


@st.cache_resource(show_spinner=False)
def _slots(n: int) -> threading.BoundedSemaphore:
    return threading.BoundedSemaphore(n)


class bounded:  # noqa: N801 - used like a function: `with bounded("sampling"):`
    """Hold one of the server's page-work slots while the block runs; Busy if none frees up in time."""

    def __init__(self, what: str):
        self.what, self.slots = what, _slots(PAGE_WORK_SLOTS)

    def __enter__(self) -> None:
        if not self.slots.acquire(timeout=PAGE_WORK_WAIT_S):
            raise Busy(f"the server is busy with other students' {self.what}: try again in a few seconds")

    def __exit__(self, *exc) -> None:
        self.slots.release()


def _student() -> bool:
    return classroom_enabled() and current_user()[1] != "instructor"


def ising_refusal(params: IsingParams) -> str | None:
    """Why this user may not generate `params` here (one line), or None when they may."""
    n = cost(params)
    if not _student() or n <= STUDENT_ISING_COST:
        return None
    also = (" — or train on it from the Train page (dataset 'ising'): your training job samples it first"
            if params == IsingParams() else "")
    return (f"generating this set takes about {n / 2e7:.0f} s of server time ({n:,} spin updates; students may "
            f"generate up to {STUDENT_ISING_COST:,}): pick a set generated already, or a smaller L, fewer "
            f"temperatures, samples or sweeps, or ask your instructor to generate it{also}")


def graph_refusal(L: int, epochs: int, hidden: int, latent: int, seed: int) -> str | None:
    """Why these Graph AE settings are refused (one line), or None."""
    for name, v in (("L", L), ("epochs", epochs), ("hidden", hidden), ("latent", latent), ("seed", seed)):
        lo, hi = GRAPH[name]
        if not (isinstance(v, int) and lo <= v <= hi):
            return f"{name} must be a whole number between {lo} and {hi}, got {v!r}"
    if L % 2:
        return f"the lattice size L must be even, got {L}"
    if _student() and epochs > STUDENT_GRAPH_EPOCHS:
        return f"{epochs} epochs is over the classroom limit of {STUDENT_GRAPH_EPOCHS} for the graph autoencoder"
    return None


def max_epochs() -> int:
    """The Graph AE page's epoch slider's top: the classroom limit for students."""
    return STUDENT_GRAPH_EPOCHS if _student() else GRAPH["epochs"][1]
