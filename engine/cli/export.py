"""`python -m engine export RUN_ID --out DIR`: a run's weights, standalone model.py and config.json."""

from __future__ import annotations

import sys

from ..core.store import Store
from ..teaching.export import export_dir


def _cmd(args) -> int:
    store = Store(args.checkpoints)
    try:
        paths = export_dir(store, args.run_id, args.out)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for p in paths:
        print(p)
    return 0


def register(sub) -> None:
    s = sub.add_parser("export", help="write a run's weights, standalone model.py and config.json to a folder")
    s.add_argument("run_id", help="the run id (see the Runs page, or `train --json`)")
    s.add_argument("--out", required=True, help="output folder")
    s.set_defaults(func=_cmd)
