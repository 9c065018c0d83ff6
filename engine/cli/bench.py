"""`python -m engine bench`: seconds per epoch of the lecture's own VAE loop vs this engine's trainer.

(a) "lecture": the lecture's VAE exactly as in pytorch/examples `vae/main.py` — a torch Dataset that
    yields PIL images through ToTensor (what torchvision's MNIST does), a shuffled DataLoader with
    batch 128, a per-batch Python loop, BCE(sum) + KL, Adam 1e-3, model 784-400-20.
(b) "engine": `engine.core.trainer.train()` on the `seed-vae` preset with the same 9,000 images and epochs.

Both train on the same data for the same number of epochs; the table shows seconds per epoch, the
ratio, and the final training loss per image of each (they should be close: same model, same loss).
This is a benchmark that prints figures, not a timed test.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader
from torch.utils.data import Dataset as TorchDataset

# ---- (a) the lecture / pytorch-examples VAE, kept as close to the original as possible --------------


class DigitImages(TorchDataset):
    """torchvision.datasets.MNIST without the files: uint8 images in memory, and MNIST's own __getitem__
    (each item a PIL image put through `transform`, here ToTensor, exactly as the lecture's loader does)."""

    def __init__(self, data_u8: torch.Tensor, targets: torch.Tensor, transform=None):
        self.data, self.targets = data_u8, targets
        self.transform, self.target_transform = transform, None

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int):
        from torchvision.datasets import MNIST

        return MNIST.__getitem__(self, index)


def lecture_vae() -> nn.Module:
    """The lecture's VAE class itself (engine.teaching.lecture.VAE, the listing the Train page shows), with its
    sampling and sigmoid written as today's torch and pytorch/examples `vae/main.py` write them: the listing's
    `torch.cuda.FloatTensor` would put ε on the GPU whenever one exists, even for a CPU benchmark."""
    from engine.teaching.lecture import VAE

    listing: dict = {"torch": torch, "nn": nn, "F": F}
    exec(VAE, listing)  # noqa: S102 - our own constant: the lecture's code, run as the lecture ran it

    class LectureVAE(listing["VAE"]):
        def reparametrize(self, mu, logvar):
            std = torch.exp(0.5 * logvar)
            return mu + torch.randn_like(std) * std

        def decode(self, z):
            return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))

        def forward(self, x):
            return super().forward(x.view(-1, 784))

    return LectureVAE()


def loss_function(recon_x, x, mu, logvar):
    bce = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


class LectureLoop:
    """The lecture's training script, one `epoch()` call per epoch of its `for epoch in ...` loop."""

    def __init__(self, images_u8: torch.Tensor, labels: torch.Tensor, device: torch.device, seed: int = 0):
        from torchvision import transforms

        torch.manual_seed(seed)
        self.device = device
        kwargs = {"num_workers": 1, "pin_memory": True} if device.type == "cuda" else {}
        self.train_loader = DataLoader(DigitImages(images_u8, labels, transform=transforms.ToTensor()),
                                       batch_size=128, shuffle=True, generator=torch.Generator().manual_seed(seed),
                                       **kwargs)
        self.model = lecture_vae().to(device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3)

    def epoch(self) -> tuple[float, float]:
        """(seconds, average training loss per image) of one epoch."""
        model, optimizer, device = self.model, self.optimizer, self.device
        t0 = time.perf_counter()
        model.train()
        train_loss = 0
        for _batch_idx, (data, _) in enumerate(self.train_loader):
            data = data.to(device)
            optimizer.zero_grad()
            recon_batch, mu, logvar = model(data)
            loss = loss_function(recon_batch, data, mu, logvar)
            loss.backward()
            train_loss += loss.item()
            optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t0, train_loss / len(self.train_loader.dataset)


# ---- (b) the engine ---------------------------------------------------------------------------------


def run_both(lecture: LectureLoop, epochs: int, device: str, seed: int = 0) -> tuple[list, list, float, float]:
    """Train both for `epochs`, interleaved: after each engine epoch (its time already measured), one
    lecture epoch runs from the engine's report callback. On a shared machine both loops then see the
    same background load, which a run-one-then-the-other comparison does not."""
    from ..core.presets import preset
    from ..core.store import Store
    from ..core.trainer import train

    lec_s: list[float] = []
    lec_loss = [float("nan")]

    def report(ev: dict) -> None:
        if ev["type"] == "epoch":
            with torch.random.fork_rng(devices=[]):  # keep the two loops' random streams apart
                s, loss = lecture.epoch()
            lec_s.append(s)
            lec_loss[0] = loss

    cfg = preset("seed-vae", epochs=epochs, device=device, seed=seed)
    with tempfile.TemporaryDirectory(prefix="ae-lab-bench-") as tmp:
        res = train(cfg, report, store=Store(tmp), use_cache=False)
    if res.status != "completed":
        raise RuntimeError(f"engine run ended with status {res.status}: {res.message}")
    return lec_s, res.epoch_seconds, lec_loss[0], res.train["loss"]


def _median(xs: list[float]) -> float:
    xs = sorted(xs)
    m = len(xs) // 2
    return xs[m] if len(xs) % 2 else (xs[m - 1] + xs[m]) / 2


def main(args: argparse.Namespace | None = None) -> int:
    """Print the side-by-side table (`args`: epochs, device, threads from `python -m engine bench`), then
    the job-backend benchmarks of engine/bench_jobs.py when that module exists. Returns an exit code."""
    from ..core.trainer import resolve_device
    from ..data import load

    epochs = getattr(args, "epochs", None)
    epochs = 3 if epochs is None else int(epochs)
    dev_name = getattr(args, "device", "auto") or "auto"
    if epochs < 1:
        print("error: --epochs must be ≥ 1", file=sys.stderr)
        return 2
    device = resolve_device(dev_name)
    threads = getattr(args, "threads", None)
    if threads is not None:
        if threads < 1:
            print("error: --threads must be ≥ 1", file=sys.stderr)
            return 2
        torch.set_num_threads(threads)  # on a busy shared machine, 1 thread gives steadier figures

    data = load("mnist")
    images = (data.train_x.squeeze(1) * 255).round().to(torch.uint8)  # back to the bytes torchvision would hold
    print(f"bench: seed-vae (784-400-20, BCE+KL, batch 128, Adam 1e-3) on {len(images):,} MNIST images, "
          f"{epochs} epochs, device {device}, {torch.get_num_threads()} torch threads")
    print(f"data: {data.note}")
    load1 = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    cpus = os.cpu_count() or 1
    print(f"machine: {cpus} CPUs, load average {load1:.1f}")
    if device.type == "cpu" and load1 > cpus and threads is None:
        print("note: the machine is busy; multi-threaded torch slows down badly when CPUs are oversubscribed "
              "— `--threads 1` gives steadier figures")

    lec_s, eng_s, lec_loss, eng_loss = run_both(LectureLoop(images, data.train_y, device), epochs, str(device))

    a, b = _median(lec_s), _median(eng_s)
    print()
    print(f"{'loop':<24} {'sec/epoch (median)':>19} {'final train loss/image':>23}")
    print(f"{'lecture (DataLoader)':<24} {a:>19.3f} {lec_loss:>23.2f}")
    print(f"{'engine train()':<24} {b:>19.3f} {eng_loss:>23.2f}")
    print(f"speed-up: {a / b:.2f}× (engine vs lecture; engine epochs include held-out eval, snapshot, checkpoint)")
    print(f"per-epoch seconds  lecture: {', '.join(f'{s:.3f}' for s in lec_s)}")
    print(f"per-epoch seconds  engine:  {', '.join(f'{s:.3f}' for s in eng_s)}")

    # ---- HOOK: the job-backend benchmarks live in engine/bench_jobs.py (written separately) -----------
    try:
        bench_jobs = importlib.import_module(f"{__package__}.bench_jobs")
    except ImportError as e:
        if e.name != f"{__package__}.bench_jobs":  # it exists, but one of its own imports failed
            print(f"job benchmarks skipped: {e}", file=sys.stderr)
        return 0
    print()
    return int(bench_jobs.main() or 0)
