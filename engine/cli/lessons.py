"""`python -m engine lesson [KEY] [--size S]`: list the lessons, or train a lesson's runs (cached) and print
what its runs differ in and its evidence."""

from __future__ import annotations

import json

from ..core.config import ConfigError
from ..teaching.lessons import LESSONS, SIZES, default_size, train_lesson


def _summary(ev: dict, prefix: str = "") -> dict:
    """The plain numbers of an evidence dict (for the terminal and --json)."""
    out: dict = {}
    for k, v in ev.items():
        if isinstance(v, bool | int | float | str):
            out[prefix + str(k)] = v
        elif isinstance(v, dict):
            out.update(_summary(v, f"{prefix}{k}."))
    return out


def _cmd(args) -> int:
    if not args.key:
        for k, lesson in LESSONS.items():
            print(f"{k:14s} {lesson.title}\n{'':14s} {lesson.claim}")
        return 0
    if args.key not in LESSONS:
        raise ConfigError(f"unknown lesson '{args.key}'; choose one of: {', '.join(LESSONS)}")
    lesson = LESSONS[args.key]
    size = args.size or default_size()
    runs = train_lesson(args.key, size)
    ev = lesson.evidence(runs)
    if args.key == "beta":
        ev = {f"beta={r['beta']:g}": {k: v for k, v in r.items() if k != "kl_per_dim"} for r in ev["rows"]}
    nums = _summary(ev)
    if args.json:
        print(json.dumps({"lesson": args.key, "runs": {k: c.run_id() for k, c in runs.specs.items()},
                          "evidence": nums}))
    else:
        print(f"{lesson.title}\nClaim: {lesson.claim}")
        for d in lesson.diffs(size):
            print(f"Compares {' vs '.join(d['arms'])}: changes {', '.join(d['changes'])}"
                  + (f" ({d['why']})" if d["why"] else ""))
            for row in d["rows"]:
                print(f"  {row['setting']:34s} " + " | ".join(v for k, v in row.items()
                                                             if k not in ("field", "setting", "kind")))
        for k, v in nums.items():
            print(f"  {k}: {v:.4g}" if isinstance(v, float) else f"  {k}: {v}")
        print(f"Why: {lesson.why}")
    return 0


def register(sub) -> None:
    s = sub.add_parser("lesson", help="list the lessons, or train a lesson's runs (cached) and print its evidence")
    s.add_argument("key", nargs="?", help="lesson key (omit to list them)")
    s.add_argument("--size", choices=SIZES, help="cpu (default without a GPU) · gpu (longer) · test: unit tests only, "
                                                 "too short for some claims")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(func=_cmd)
