"""What every subcommand shares: the one-line-error parser, the exit codes, the run flags, the store."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from ..core.config import RunConfig
from ..core.presets import preset
from ..core.store import Store, default_root

EXIT_FAILED = 1  # the command ran and failed (disk full, run busy, damaged checkpoint)
EXIT_USAGE = 2  # a bad flag, setting, id or path: nothing was done


class UsageError(ValueError):
    """A flag value the command cannot use (e.g. a checkpoint folder that is a file); one line."""


def one_line(text: object) -> str:
    """A message as one printable line: a hostile value may hold newlines or control characters."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


def fail(message: object, code: int = EXIT_USAGE) -> int:
    """Print `error: <message>` as one line on stderr; returns the exit code."""
    print(f"error: {one_line(message)}", file=sys.stderr)
    return code


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2 (argparse would print the whole usage)
        cmd = " ".join(["python -m engine", *self.prog.split()[1:]])  # prog is "engine" or "engine train"
        self.exit(EXIT_USAGE, f"error: {one_line(message)} (see `{cmd} --help`)\n")


def open_store(args: argparse.Namespace) -> Store:
    """The checkpoint store of --checkpoints (default: $AE_LAB_CHECKPOINTS or ./checkpoints)."""
    where = args.checkpoints or default_root()
    try:
        return Store(where)
    except (OSError, ValueError) as e:  # a file, no permission, a NUL byte in the path, ...
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise UsageError(f"cannot use '{where}' as the checkpoint folder ({reason}): "
                         "give --checkpoints a folder you can write to") from None


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


class CtrlC:
    """Ctrl-C while training: the first press asks the trainer to stop after the current step (checkpoint and index
    stay consistent, the run resumes later); a second press interrupts at once. A KeyboardInterrupt raised at an
    arbitrary point could land inside an index transaction or a checkpoint write and leave the process waiting on
    its own lock. Outside the main thread (no signal handlers there) it does nothing."""

    def __init__(self) -> None:
        self.pressed = False
        self._old = None

    def __enter__(self) -> CtrlC:
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handler)
        return self

    def _handler(self, signum, frame) -> None:
        if self.pressed:
            raise KeyboardInterrupt
        self.pressed = True

    def __exit__(self, *exc) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
