"""`python -m engine lesson-spread [--size S]`: every lesson's claims over 3 seeds — margin against seed spread.

Trains what is missing (every arm of every lesson at seeds 0, 1, 2, in parallel workers like `prepare`; cached,
so the lessons' own runs and replicas are shared), then prints per claim both numbers as mean ± spread, the
margin, margin ÷ spread, and whether the claim held at every seed. Claims under 3× need error bars on the page.
"""

from __future__ import annotations

import json
import sys

from .common import open_store
from .prepare import add_pool_flags, train_pack


def _fmt(s: dict) -> str:
    return f"{s['mean']:.4g} ± {s['spread']:.2g}"


def _cmd(args) -> int:
    from ..teaching.lessons import SEPARATED, default_size
    from ..teaching.pack import chains, untrained
    from ..teaching.spread import audit, spread_runs

    size = args.size or default_size()
    store = open_store(args)
    todo = untrained(spread_runs(size), store)
    print(f"lesson-spread at size '{size}': {len(todo)} runs to train → {store.root}", file=sys.stderr)
    bad = [t for t in train_pack(chains(todo), store.root, args.workers, args.threads) if t.status != "completed"]
    if bad:
        print(f"{bad[0].role} ended {bad[0].status}: {bad[0].message}", file=sys.stderr)
        return 1
    table = audit(size, store)
    if args.json:
        print(json.dumps(table))
        return 0
    for key, rows in table.items():
        print(f"\n{key}")
        for r in rows:
            verdict = "holds at every seed" if r["holds"] else "DOES NOT HOLD at every seed"
            bars = "plain" if r["ratio"] > SEPARATED else "needs error bars"
            print(f"  {r['claim']}\n    {_fmt(r['smaller'])}  <  {_fmt(r['larger'])}   margin {r['margin']:.3g}, "
                  f"margin/spread {r['ratio']:.1f} ({bars}; {verdict})")
    return 0


def register(sub) -> None:
    from ..teaching.lessons import SIZES

    s = sub.add_parser("lesson-spread", help="every lesson's claims over 3 seeds: margin against seed spread")
    s.add_argument("--size", choices=SIZES, help="cpu (default without a GPU) or gpu")
    s.add_argument("--checkpoints", help="checkpoint folder (default: ./checkpoints or $AE_LAB_CHECKPOINTS)")
    s.add_argument("--json", action="store_true", help="print the table as JSON")
    add_pool_flags(s)
    s.set_defaults(func=_cmd)
