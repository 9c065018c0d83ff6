"""`python -m engine bench-lessons`: seconds from an empty cache to every lesson ready, at the default size.

Trains the lessons' runs (not the Applications page's) the way `prepare` does — parallel worker processes, one
torch thread each — into a throw-away checkpoint folder, and prints per lesson the runs it needs and when it was
ready (all its runs finished), the total, the CPU seconds spent, and the load average before and after: on a
shared machine the load says how much of the CPU this benchmark actually had.
"""

from __future__ import annotations

import os
import tempfile
import time

from .prepare import Trained, add_pool_flags, default_workers, train_pack


def load_average() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def bench(size: str, workers: int | None = None, threads: int = 1) -> dict:
    """{"lessons": [{lesson, runs, ready_s}], "total_s", "cpu_s", "runs", "load_before", "load_after"}."""
    from ..teaching.pack import chains, demo_pack, lessons_of

    pack = demo_pack(size, applications=False)
    needs = lessons_of(size)
    finished: dict[str, float] = {}
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="bench-lessons-") as tmp:
        t0 = time.time()
        done: list[Trained] = train_pack(chains(pack), os.path.join(tmp, "checkpoints"), workers, threads,
                                         lambda t: finished.setdefault(t.run_id, t.finished))
        total = time.time() - t0
    bad = [t for t in done if t.status != "completed"]
    if bad:
        raise RuntimeError(f"{bad[0].role} ended {bad[0].status}: {bad[0].message}")
    rows = [{"lesson": k, "runs": len(ids), "ready_s": max((finished[r] - t0 for r in ids), default=0.0)}
            for k, ids in needs.items()]
    return {"size": size, "lessons": rows, "total_s": total, "cpu_s": sum(t.cpu_seconds for t in done), "trained": done,
            "runs": len(pack), "workers": workers or default_workers(), "threads": threads,
            "load_before": load_before, "load_after": load_average()}


def _cmd(args) -> int:
    from ..teaching.lessons import default_size

    r = bench(args.size or default_size(), args.workers, args.threads)
    print(f"bench-lessons: size '{r['size']}', empty cache, {r['workers']} workers × {r['threads']} thread(s), "
          f"{os.cpu_count()} CPU cores")
    print(f"{'lesson':14s} {'runs':>5s} {'ready after':>12s}")
    for row in r["lessons"]:
        print(f"{row['lesson']:14s} {row['runs']:5d} {row['ready_s']:11.1f}s")
    print(f"{'all lessons':14s} {r['runs']:5d} {r['total_s']:11.1f}s   (CPU {r['cpu_s']:.0f} s in the runs; "
          f"load average {r['load_before']} before, {r['load_after']} after)")
    if args.verbose:
        for t in sorted(r["trained"], key=lambda t: -t.cpu_seconds):
            print(f"  {t.role:28s} {t.run_id:20s} CPU {t.cpu_seconds:6.1f} s  wall {t.seconds:6.1f} s")
    return 0


def register(sub) -> None:
    from ..teaching.lessons import SIZES

    s = sub.add_parser("bench-lessons", help="seconds from an empty cache to every lesson ready")
    s.add_argument("--size", choices=SIZES, help="default: gpu with CUDA, else cpu")
    s.add_argument("-v", "--verbose", action="store_true", help="also list every run with its CPU and wall seconds")
    add_pool_flags(s)
    s.set_defaults(func=_cmd)
