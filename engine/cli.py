"""Command line: `python -m engine presets | train | download | bench ...`.

Bad flags and bad configs print one line to stderr and exit with code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys

from .config import ConfigError

EXIT_USAGE = 2


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2 (argparse would print the whole usage)
        cmd = " ".join(["python -m engine", *self.prog.split()[1:]])  # prog is "engine" or "engine train"
        self.exit(EXIT_USAGE, f"error: {message} (see `{cmd} --help`)\n")


def add_run_flags(p: argparse.ArgumentParser) -> None:
    """Flags shared by every command that describes a run (train, submit)."""
    p.add_argument("--preset", required=True, help="preset name (see `python -m engine presets`)")
    p.add_argument("--epochs", type=int, help="number of epochs")
    p.add_argument("--beta", type=float, help="KL weight β (VAEs)")
    p.add_argument("--latent-dim", type=int, help="size of the latent code")
    p.add_argument("--dataset", help="mnist (bundled, offline), fashion-mnist, synthetic")
    p.add_argument("--device", help="auto, cpu or cuda")
    p.add_argument("--lr", type=float, help="Adam learning rate")
    p.add_argument("--batch-size", type=int, help="batch size")
    p.add_argument("--seed", type=int, help="random seed")
    p.add_argument("--train-limit", type=int, help="train on the first N images only (quick runs)")


def config_from(args: argparse.Namespace):
    from .presets import preset

    return preset(args.preset, epochs=args.epochs, beta=args.beta, latent_dim=args.latent_dim, dataset=args.dataset,
                  device=args.device, lr=args.lr, batch_size=args.batch_size, seed=args.seed,
                  train_limit=args.train_limit)


def cmd_presets(args) -> int:
    from .presets import DESCRIPTIONS, PRESETS, preset

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
    from .store import Store
    from .trainer import train

    cfg = config_from(args)
    result = train(cfg, TerminalProgress(quiet=args.quiet), store=Store(args.checkpoints), use_cache=not args.no_cache)
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
    from .data import download

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

    from . import cli_jobs, export, ising, lessons  # noqa: F401 - they register submit/status/..., export, ising, lesson

    for register in EXTRA_COMMANDS:
        register(sub)
    return p


EXTRA_COMMANDS: list = []  # other modules (job backends) append functions that add their subcommands


def main(argv: list[str] | None = None) -> int:
    from .data import DataUnavailable

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, DataUnavailable) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted: the last finished epoch is checkpointed; run the same command again to resume",
              file=sys.stderr)
        return 130
