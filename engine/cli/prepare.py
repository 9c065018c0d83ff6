"""`python -m engine prepare [--size S]`: the demo pack — train every run the lessons and the Applications page need,
ahead of time, so every lesson opens at once afterwards.

Runs are trained in parallel worker processes with one torch thread each: these models are small, so one thread
per run keeps both cores busy, while two threads on one small run mostly wait on each other (and on a busy
machine a multi-threaded run slows down several-fold). Runs that continue each other go to one worker in order.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import os
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from ..core.config import RunConfig


@dataclass
class Trained:
    role: str
    run_id: str
    status: str
    cached: bool
    seconds: float  # wall-clock seconds of this run in its worker
    cpu_seconds: float
    finished: float  # time.time() when it finished
    message: str = ""


class WorkerLost(RuntimeError):
    """A worker process died (killed, out of memory, or it could not start): the pack stops, it does not wait."""


def _init(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def _train_chain(args: tuple[str, list[tuple[str, RunConfig]]]) -> list[Trained]:
    """Train a chain of runs in this worker, each continuing the one before it (same settings, more epochs)."""
    from ..core.store import Store
    from ..core.trainer import train

    root, chain = args
    store, out = Store(root), []
    for role, cfg in chain:
        t, c = time.perf_counter(), time.process_time()
        res = train(cfg, store=store)
        out.append(Trained(role, cfg.run_id(), res.status, res.cached, time.perf_counter() - t,
                           time.process_time() - c, time.time(), res.message))
    return out


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


@contextlib.contextmanager
def _no_script_main() -> Iterator[None]:
    """Spawned workers re-run the parent's `__main__` when it is a script given by path. In a process where a
    Streamlit script is `__main__` (AppTest runs app.py so), that would run the app in every worker, which fails,
    and the pool would replace its workers forever. The workers need nothing from `__main__` (what they run lives
    in this module), so a script main is hidden while the pool starts them; a module run with -m is kept."""
    main = sys.modules.get("__main__")
    if main is None or getattr(main, "__spec__", None) is not None or not getattr(main, "__file__", None):
        yield
        return
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


def _context(threads: int) -> mp.context.BaseContext:
    """Fork where it is safe, spawn elsewhere. A forked worker starts with this process's torch and engine
    already imported (a spawned one spends ~3 CPU-s importing them); forking is safe here only while this
    process runs no other thread (the CLI: not a Streamlit server or a test with an app thread) and each worker
    runs torch on one thread (no OpenMP pool to inherit half-started)."""
    if threads == 1 and threading.active_count() == 1 and "fork" in mp.get_all_start_methods():
        return mp.get_context("fork")
    return mp.get_context("spawn")


def train_pack(chains: list[list[tuple[str, RunConfig]]], root: str | Path, workers: int | None = None,
               threads: int = 1, on_done: Callable[[Trained], None] | None = None) -> list[Trained]:
    """Train every chain (see `engine.teaching.pack.chains`: longest first) into the store at `root`, `workers` at a
    time, in the order given; `on_done` is called in this process as each run finishes. WorkerLost if a worker
    process dies (a multiprocessing.Pool would start another one and wait for the lost chain forever)."""
    out: list[Trained] = []
    pool = ProcessPoolExecutor(workers or default_workers(), mp_context=_context(threads), initializer=_init,
                               initargs=(threads,))
    try:
        with _no_script_main():  # the workers start during the submits
            futures = [pool.submit(_train_chain, (str(root), c)) for c in chains]
        for future in as_completed(futures):
            for t in future.result():
                out.append(t)
                if on_done:
                    on_done(t)
    except BrokenProcessPool as e:
        _stop(pool)
        raise WorkerLost(f"a training worker process died (killed, out of memory, or it could not start) after "
                         f"{len(out)} runs: the runs trained so far are stored; run the same command again to "
                         "train the rest") from e
    except BaseException:  # a chain's error, Ctrl-C: stop the others now rather than wait for their runs to end
        _stop(pool)
        raise
    pool.shutdown()
    return out


def _stop(pool: ProcessPoolExecutor) -> None:
    """Stop the pool's workers without waiting for the chains they are training (as multiprocessing.Pool's
    terminate does; the executor has no public way before Python 3.14). An interrupted run resumes later."""
    procs = list((pool._processes or {}).values())  # noqa: SLF001 - see above
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        p.terminate()
    for p in procs:
        p.join(10)


def _cmd(args) -> int:
    from tqdm import tqdm

    from ..core.store import Store
    from ..teaching.lessons import default_size
    from ..teaching.pack import chains, demo_pack, untrained

    size = args.size or default_size()
    store = Store(args.checkpoints)
    pack = demo_pack(size, applications=not args.lessons_only)
    todo = untrained(pack, store)
    print(f"demo pack at size '{size}': {len(pack)} runs, {len(pack) - len(todo)} already trained, {len(todo)} to "
          f"train in {args.workers or default_workers()} worker processes → {store.root}", file=sys.stderr)
    failed = []
    with tqdm(total=len(todo), unit="run", file=sys.stderr, dynamic_ncols=True) as bar:
        def done(t: Trained) -> None:
            bar.set_postfix_str(t.role, refresh=False)
            bar.update(1)
            if t.status != "completed":
                failed.append(t)

        train_pack(chains(todo), store.root, args.workers, args.threads, done)
    for t in failed:
        print(f"{t.role} ({t.run_id}) ended {t.status}: {t.message}", file=sys.stderr)
    print(f"{len(todo) - len(failed)} of {len(todo)} runs trained; every lesson at size '{size}' opens at once"
          if not failed else f"{len(failed)} runs did not complete")
    return 1 if failed else 0


def count(text: str) -> int:
    """An argparse type: a whole number from 1 to 256 (workers, threads)."""
    try:
        n = int(text)
    except ValueError:
        n = 0
    if not 1 <= n <= 256:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to 256, got {text!r}")
    return n


def add_pool_flags(s) -> None:
    s.add_argument("--workers", type=count, help="parallel worker processes (default: one per CPU core)")
    s.add_argument("--threads", type=count, default=1, help="torch threads per worker (default 1)")


def register(sub) -> None:
    from ..teaching.lessons import SIZES

    s = sub.add_parser("prepare", help="train every lesson's runs ahead of time (the demo pack), in parallel")
    s.add_argument("--size", choices=SIZES, help="cpu (default without a GPU) or gpu; test is for unit tests")
    s.add_argument("--lessons-only", action="store_true", help="skip the Applications page's runs")
    add_pool_flags(s)
    s.set_defaults(func=_cmd)
