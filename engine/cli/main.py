"""Command line: `python -m engine presets | train | download | bench | submit | lesson | ising | export ...`.

Bad flags, configs, run ids and paths print one line to stderr and exit with code 2, never a traceback;
a run another process is training, a damaged checkpoint or a full disk print one line and exit with 1.
"""

from __future__ import annotations

import json
import sys

from ..core.config import ConfigError
from ..core.store import DamagedCheckpoint, DiskFull, RunIdError, RunLocked
from ..data import DataUnavailable
from . import bench_lessons, export, ising, jobs, lessons, prepare, spread
from .common import EXIT_FAILED, CtrlC, Parser, UsageError, add_run_flags, config_from, fail, open_store


def cmd_presets(args) -> int:
    from ..core.presets import DESCRIPTIONS, PRESETS, preset

    if args.json:
        print(json.dumps({n: preset(n).model_dump(mode="json") for n in PRESETS}))
        return 0
    for name in PRESETS:
        print(f"{name:16s} {DESCRIPTIONS[name]}")
    return 0


class TerminalProgress:
    """A tqdm bar over all steps of the run, on stderr, fed by the trainer's report events."""

    def __init__(self, quiet: bool = False):
        self.bar = None
        self.quiet = quiet

    def __call__(self, ev: dict) -> None:
        if self.quiet:
            return
        from tqdm import tqdm

        if ev["type"] == "start":
            print(ev["data_note"], file=sys.stderr)
            total = ev["epochs"] * ev["steps_per_epoch"]
            self.bar = tqdm(total=total, initial=ev["epoch"] * ev["steps_per_epoch"], unit="step",
                            file=sys.stderr, dynamic_ncols=True, desc=ev["run_id"])
        elif ev["type"] == "step" and self.bar is not None:
            self.bar.update(ev["step"] - self.bar.n)
            post = {"recon": f"{ev['recon']:.2f}", "loss": f"{ev['loss']:.3f}"}
            if ev["kl"]:
                post["kl"] = f"{ev['kl']:.2f}"
            self.bar.set_postfix(post, refresh=False)
        elif ev["type"] == "done":
            if self.bar is not None:
                self.bar.close()
            if ev.get("message"):
                print(ev["message"], file=sys.stderr)


def cmd_train(args) -> int:
    from ..core.trainer import train

    cfg = config_from(args)
    with CtrlC() as ctrl_c:
        result = train(cfg, TerminalProgress(quiet=args.quiet), lambda: ctrl_c.pressed, store=open_store(args),
                       use_cache=not args.no_cache)
    if ctrl_c.pressed and result.status == "stopped":
        raise KeyboardInterrupt  # exit 130 with the resume hint (main)
    out = result.to_json()
    out["epochs"] = result.epochs
    if args.json:
        print(json.dumps(out))
    else:
        h = result.heldout
        print(f"{result.status}: run {result.run_id} ({'cached' if result.cached else 'trained'}), "
              f"{result.epochs} epochs, held-out recon {h.get('recon', float('nan')):.3f} "
              f"kl {h.get('kl', 0):.3f} loss {h.get('loss', float('nan')):.4f} per image → {result.checkpoint}")
    return 0 if result.status == "completed" else 1


def cmd_download(args) -> int:
    from ..data import download

    print(download(args.dataset))
    return 0


def cmd_bench(args) -> int:
    from .bench import main as bench_main

    return bench_main(args)


def build_parser() -> Parser:
    p = Parser(prog="engine", description="Train autoencoders and VAEs from the command line.")
    p.add_argument("--checkpoints", help="checkpoint folder (default: ./checkpoints or $AE_LAB_CHECKPOINTS)")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)

    s = sub.add_parser("presets", help="list the named configurations")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_presets)

    s = sub.add_parser("train", help="train a run in this process (or load it from the cache)")
    add_run_flags(s)
    s.add_argument("--no-cache", action="store_true", help="retrain even if a checkpoint exists")
    s.add_argument("--json", action="store_true", help="print the result as one JSON line at the end")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("download", help="download a full dataset through torchvision (needs internet)")
    s.add_argument("dataset", choices=["mnist", "fashion-mnist"])
    s.set_defaults(func=cmd_download)

    s = sub.add_parser("bench", help="seconds per epoch: the lecture's VAE loop vs this engine")
    s.add_argument("--epochs", type=int, default=3)
    s.add_argument("--device", default="auto")
    s.add_argument("--threads", type=int, help="torch CPU threads for both loops (default: torch's choice)")
    s.set_defaults(func=cmd_bench)

    for module in (jobs, lessons, prepare, bench_lessons, spread, ising, export):
        module.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, DataUnavailable, RunIdError, UsageError) as e:
        return fail(e)
    except (RunLocked, DamagedCheckpoint, DiskFull, prepare.WorkerLost) as e:
        return fail(e, EXIT_FAILED)
    except KeyboardInterrupt:
        print("interrupted: the last finished epoch is checkpointed; run the same command again to resume",
              file=sys.stderr)
        return 130
