"""`python -m engine export RUN_ID --out DIR`: a run's weights, standalone model.py and config.json."""

from __future__ import annotations

from ..teaching.export import ExportError, export_dir
from .common import fail, open_store


def _cmd(args) -> int:
    """A bad run id (RunIdError) or a damaged checkpoint reach main(), which prints them as one line."""
    try:
        paths = export_dir(open_store(args), args.run_id, args.out)
    except (FileNotFoundError, ExportError) as e:
        return fail(e)
    for p in paths:
        print(p)
    return 0


def register(sub) -> None:
    s = sub.add_parser("export", help="write a run's weights, standalone model.py and config.json to a folder")
    s.add_argument("run_id", help="the run id (see the Runs page, or `train --json`)")
    s.add_argument("--out", required=True, help="output folder")
    s.set_defaults(func=_cmd)
