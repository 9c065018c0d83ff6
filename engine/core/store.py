"""Checkpoint store: one folder per run under `checkpoints/runs/<run_id>/`, an index in diskcache.

Layout of a run folder (every file written atomically: temp file + rename):
    config.json              the RunConfig
    state.pt                 model + optimizer state after the last finished epoch
    history.json             step and epoch metrics, events (beta changes, warnings)
    snapshots/epoch-0003.pt  what the pages draw for that epoch (uint8 images, latent codes)
The index (`checkpoints/index/`) maps run_id -> small metadata dict (status, epochs done, final metrics),
so listing runs never opens a weights file. Everything is loaded with torch.load(weights_only=True).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import diskcache
import torch

from ..data.files import atomic_write, read_json, write_json
from .config import RunConfig
from .models import Autoencoder, build_model

ROOT = Path(__file__).resolve().parent.parent.parent


def default_root() -> Path:
    return Path(os.environ.get("AE_LAB_CHECKPOINTS", ROOT / "checkpoints"))


class Store:
    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root else default_root()
        self.root.mkdir(parents=True, exist_ok=True)
        self.index = diskcache.Cache(str(self.root / "index"))

    # ---- metadata ---------------------------------------------------------------------------
    def run_dir(self, run_id: str) -> Path:
        return self.root / "runs" / run_id

    def meta(self, run_id: str) -> dict | None:
        return self.index.get(f"run:{run_id}")

    def set_meta(self, run_id: str, **fields) -> dict:
        with self.index.transact():
            m = self.index.get(f"run:{run_id}") or {"run_id": run_id, "created": time.time()}
            m.update(fields, updated=time.time())
            self.index.set(f"run:{run_id}", m)
        return m

    def runs(self) -> list[dict]:
        """All runs, newest first."""
        out = [self.index.get(k) for k in self.index.iterkeys() if str(k).startswith("run:")]
        return sorted((m for m in out if m), key=lambda m: m.get("updated", 0), reverse=True)

    def state_path(self, run_id: str) -> Path:
        return self.run_dir(run_id) / "state.pt"

    def has_state(self, run_id: str) -> bool:
        """Has the run a checkpoint (at least one finished epoch)?"""
        return self.state_path(run_id).exists()

    def is_complete(self, run_id: str) -> bool:
        """Finished as its config says. A run whose β or lr was steered by hand is not what its config
        describes, so it never serves as the cached result of that config."""
        m = self.meta(run_id)
        return bool(m and m.get("status") == "completed" and not m.get("steered")
                    and self.has_state(run_id))

    def config(self, run_id: str) -> RunConfig:
        return RunConfig(**read_json(self.run_dir(run_id) / "config.json"))

    # ---- writing a run ----------------------------------------------------------------------
    def begin(self, cfg: RunConfig) -> None:
        run_id = cfg.run_id()
        write_json(self.run_dir(run_id) / "config.json", cfg.model_dump(mode="json"))
        if not self.meta(run_id):
            self.set_meta(run_id, base_id=cfg.base_id(), name=cfg.name, config=cfg.model_dump(mode="json"),
                          status="running", epochs=cfg.epochs, epochs_done=0)

    def save_epoch(self, run_id: str, state: dict, history: dict, snapshot: dict | None, epoch: int) -> None:
        """Persist one finished epoch: snapshot first, then history, then weights (the commit point)."""
        d = self.run_dir(run_id)
        if snapshot is not None:
            atomic_write(d / "snapshots" / f"epoch-{epoch:04d}.pt", lambda f: torch.save(snapshot, f))
        write_json(d / "history.json", history)
        atomic_write(self.state_path(run_id), lambda f: torch.save(state, f))
        last = history["epochs"][-1] if history.get("epochs") else {}
        self.set_meta(run_id, epochs_done=epoch, train=last.get("train"), heldout=last.get("heldout"))

    # ---- reading a run ----------------------------------------------------------------------
    def load_state(self, run_id: str, device: str | torch.device = "cpu") -> dict | None:
        p = self.state_path(run_id)
        return torch.load(p, map_location=device, weights_only=True) if p.exists() else None

    def history(self, run_id: str) -> dict:
        p = self.run_dir(run_id) / "history.json"
        return read_json(p) if p.exists() else {"steps": [], "epochs": [], "events": []}

    def snapshot_epochs(self, run_id: str) -> list[int]:
        d = self.run_dir(run_id) / "snapshots"
        return sorted(int(p.stem.split("-")[1]) for p in d.glob("epoch-*.pt")) if d.exists() else []

    def snapshot(self, run_id: str, epoch: int | None = None) -> dict | None:
        """The snapshot of `epoch` (default: the latest)."""
        epochs = self.snapshot_epochs(run_id)
        if not epochs:
            return None
        e = epochs[-1] if epoch is None else epoch
        p = self.run_dir(run_id) / "snapshots" / f"epoch-{e:04d}.pt"
        return torch.load(p, map_location="cpu", weights_only=True) if p.exists() else None

    def load_model(self, run_id: str, device: str = "cpu") -> tuple[RunConfig, Autoencoder]:
        """(config, model in eval mode) of a stored run."""
        cfg = self.config(run_id)
        state = self.load_state(run_id, device)
        if state is None:
            raise FileNotFoundError(f"run {run_id} has no checkpoint yet")
        model = build_model(cfg, tuple(state["shape"])).to(device)
        model.load_state_dict(state["model"])
        model.eval()
        return cfg, model

    # ---- continuing and removing --------------------------------------------------------------
    def continuation(self, cfg: RunConfig) -> str | None:
        """A stored run with the same settings and fewer (or equal) epochs, to continue from."""
        best = None
        for m in self.runs():
            if m.get("base_id") != cfg.base_id() or m["run_id"] == cfg.run_id() or m.get("steered"):
                continue
            done = m.get("epochs_done", 0)
            if 0 < done <= cfg.epochs and self.has_state(m["run_id"]):
                if best is None or done > best[0]:
                    best = (done, m["run_id"])
        return best[1] if best else None

    def archive_steered(self, run_id: str) -> str:
        """Keep a finished steered run under a new id (before its config is trained as configured)."""
        m = self.meta(run_id) or {}
        k = 1
        while self.meta(f"{run_id}-steered-{k}"):
            k += 1
        new = f"{run_id}-steered-{k}"
        self.copy_run(run_id, new)
        fields = {k: v for k, v in m.items() if k not in ("run_id", "updated")}
        self.set_meta(new, **{**fields, "base_id": None, "name": f"{m.get('name', 'run')} (steered)"})
        self.delete(run_id)
        return new

    def copy_run(self, src: str, dst: str) -> None:
        shutil.copytree(self.run_dir(src), self.run_dir(dst), dirs_exist_ok=True)

    def delete(self, run_id: str) -> None:
        shutil.rmtree(self.run_dir(run_id), ignore_errors=True)
        self.index.delete(f"run:{run_id}")
