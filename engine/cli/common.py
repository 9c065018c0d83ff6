"""What every subcommand shares: the one-line-error parser, the exit code for bad input, the run flags."""

from __future__ import annotations

import argparse

from ..core.config import RunConfig
from ..core.presets import preset

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


def config_from(args: argparse.Namespace) -> RunConfig:
    """The RunConfig the run flags describe (ConfigError with one line if a value is wrong)."""
    return preset(args.preset, epochs=args.epochs, beta=args.beta, latent_dim=args.latent_dim, dataset=args.dataset,
                  device=args.device, lr=args.lr, batch_size=args.batch_size, seed=args.seed,
                  train_limit=args.train_limit)
