"""Checkpoint store: one folder per run under `checkpoints/runs/<run_id>/`, an index in diskcache.

Layout of a run folder (every file written atomically: temp file + rename):
    config.json              the RunConfig
    state.pt                 model + optimizer state after the last finished epoch
    history.json             step and epoch metrics, events (beta changes, warnings)
    snapshots/epoch-0003.pt  what the pages draw for that epoch (uint8 images, latent codes)
The index (`checkpoints/index/`) maps run_id -> small metadata dict (status, epochs done, final metrics,
the sha256 of the committed state.pt), so listing runs never opens a weights file. Everything is loaded
with torch.load(weights_only=True).

Under faults:
- Run ids are checked against RUN_ID before any path is built from them: no id walks out of the store.
  Look-ups (meta, has_state, is_complete) answer "no such run" for a malformed id; everything that reads or
  writes a run's files raises RunIdError.
- A checkpoint whose bytes differ from the sha256 recorded when its epoch was committed (truncated, cut
  short by a crash, overwritten) is damaged: `damaged(run_id)` says why, `is_complete` says no, and
  `load_state`/`load_model` raise DamagedCheckpoint. Hashes are cached by (inode, size, mtime), so checking
  a run costs one stat after the first time in a process.
- `writing(run_id)` is the per-run lock (a file lock under locks/, shared by every process and host that
  mounts the store): one writer per run. `delete` takes it too, so a run is never deleted under its writer.
- A write on a full disk raises DiskFull ("disk full: ...").
- Temp files a crashed writer left behind are swept: a run's own folder when it (re)starts, the whole
  store once per process for files older than TEMP_MAX_AGE_S.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import shutil
import sqlite3
import time
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import diskcache
import filelock
import torch

from ..data.files import DiskFull, atomic_write, is_disk_full, read_json, sweep_temp, write_json
from .config import RunConfig
from .models import Autoencoder, build_model

__all__ = ["RUN_ID", "DamagedCheckpoint", "DiskFull", "RunIdError", "RunLocked", "Store", "check_run_id",
           "default_root", "read_json", "write_json"]

ROOT = Path(__file__).resolve().parent.parent.parent
RUN_ID = re.compile(r"[0-9a-f]{12}-e\d{1,4}(-steered-\d{1,6})?")  # RunConfig.run_id(), archive_steered()
LOCK_WAIT_S = 5.0  # how long a second writer waits for a run's lock before it is refused
_SWEPT: set[str] = set()  # stores swept by this process


class RunIdError(ValueError):
    """Not a run id (so it names no folder in the store); the message says what one looks like."""


class RunLocked(RuntimeError):
    """Another process is training this run right now."""


class DamagedCheckpoint(RuntimeError):
    """The run's state.pt is not the file its last committed epoch wrote: it has to be trained again."""


def check_run_id(run_id: object) -> str:
    """`run_id` if it has the form of a run id, else RunIdError with one line."""
    if isinstance(run_id, str) and RUN_ID.fullmatch(run_id):
        return run_id
    shown = "".join(c if c.isprintable() else "?" for c in str(run_id))[:40]
    raise RunIdError(f"no run '{shown}': a run id is 12 hex digits and the epochs, e.g. 3f2a9c0b1d4e-e10 "
                     "(see the Runs page or `train --json`)")


def default_root() -> Path:
    return Path(os.environ.get("AE_LAB_CHECKPOINTS", ROOT / "checkpoints"))


@lru_cache(maxsize=1024)
def _sha256(path: str, ino: int, size: int, mtime_ns: int) -> str:
    """The file's sha256, once per version of the file (a rename gives a new inode)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(2**20):
            h.update(chunk)
    return h.hexdigest()


@lru_cache(maxsize=256)
def _load_error(path: str, ino: int, size: int, mtime_ns: int) -> str | None:
    """Why a checkpoint stored without a hash (before hashes were recorded) does not load, or None."""
    try:
        torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - whatever a damaged file makes torch raise, the file is damaged
        return f"it does not load: {type(e).__name__}"
    return None


class Store:
    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root else default_root()
        self.root.mkdir(parents=True, exist_ok=True)
        self.index = diskcache.Cache(str(self.root / "index"))
        self._held: dict[str, filelock.BaseFileLock] = {}  # run locks this object holds
        if str(self.root.resolve()) not in _SWEPT:
            _SWEPT.add(str(self.root.resolve()))
            self.sweep()

    # ---- metadata ---------------------------------------------------------------------------
    def run_dir(self, run_id: str) -> Path:
        return self.root / "runs" / check_run_id(run_id)

    def meta(self, run_id: str) -> dict | None:
        return self.index.get(f"run:{run_id}") if RUN_ID.fullmatch(str(run_id)) else None

    def set_meta(self, run_id: str, **fields) -> dict:
        check_run_id(run_id)
        try:
            with self.index.transact():
                m = self.index.get(f"run:{run_id}") or {"run_id": run_id, "created": time.time()}
                m.update(fields, updated=time.time())
                self.index.set(f"run:{run_id}", m)
        except sqlite3.OperationalError as e:
            if is_disk_full(e):
                raise DiskFull(f"disk full: cannot update the index of run {run_id}") from e
            raise
        return m

    def runs(self) -> list[dict]:
        """All runs, newest first."""
        out = [self.index.get(k) for k in self.index.iterkeys() if str(k).startswith("run:")]
        return sorted((m for m in out if m), key=lambda m: m.get("updated", 0), reverse=True)

    def state_path(self, run_id: str) -> Path:
        return self.run_dir(run_id) / "state.pt"

    def has_state(self, run_id: str) -> bool:
        """Has the run a usable checkpoint (at least one finished epoch, not damaged)?"""
        return (RUN_ID.fullmatch(str(run_id)) is not None and self.state_path(run_id).exists()
                and self.damaged(run_id) is None)

    def is_complete(self, run_id: str) -> bool:
        """Finished as its config says, with an intact checkpoint. A run whose β or lr was steered by hand is
        not what its config describes, so it never serves as the cached result of that config."""
        m = self.meta(run_id)
        return bool(m and m.get("status") == "completed" and not m.get("steered")
                    and self.has_state(run_id))

    def damaged(self, run_id: str) -> str | None:
        """Why the run's checkpoint cannot be used ("this checkpoint is damaged: retrain"), or None when it is
        intact or there is none. Pages show it; training the config again retrains the run from scratch."""
        p = self.state_path(run_id)
        for attempt in (0, 1):
            try:
                st = p.stat()
                key = (str(p), st.st_ino, st.st_size, st.st_mtime_ns)
                digest = _sha256(*key)
            except FileNotFoundError:
                return None
            recorded = (self.meta(run_id) or {}).get("state_sha256")  # read after hashing: see save_epoch
            if recorded is None:
                return _load_error(*key)
            if digest in recorded:
                return None
            if attempt == 0:  # an epoch may have been committed between the hash and the look-up
                time.sleep(0.05)
        return "its contents differ from what was saved (truncated or overwritten)"

    def config(self, run_id: str) -> RunConfig:
        return RunConfig(**read_json(self.run_dir(run_id) / "config.json"))

    # ---- writing a run ----------------------------------------------------------------------
    @contextlib.contextmanager
    def writing(self, run_id: str, wait: float = LOCK_WAIT_S) -> Iterator[None]:
        """Hold the run's lock (re-entrant within this Store object). Another process holding it makes this
        wait up to `wait` seconds (a cancelled writer finishing its last step), then raise RunLocked."""
        check_run_id(run_id)
        if run_id in self._held:
            yield
            return
        (self.root / "locks").mkdir(exist_ok=True)
        lock = filelock.FileLock(self.root / "locks" / f"{run_id}.lock", timeout=wait)
        try:
            lock.acquire()
        except filelock.Timeout:
            raise RunLocked(f"run {run_id} is being trained by another process right now: wait for it to finish "
                            "(it is then loaded from the cache) or cancel it first") from None
        self._held[run_id] = lock
        try:
            yield
        finally:
            del self._held[run_id]
            lock.release()

    def begin(self, cfg: RunConfig) -> None:
        """Record a run as started (called under its lock): sweeps what a crashed earlier attempt left."""
        run_id = cfg.run_id()
        for d in (self.run_dir(run_id), self.run_dir(run_id) / "snapshots"):
            sweep_temp(d, older_than_s=0)  # under the run's lock no live writer owns a temp file here
        write_json(self.run_dir(run_id) / "config.json", cfg.model_dump(mode="json"))
        if not self.meta(run_id):
            self.set_meta(run_id, base_id=cfg.base_id(), name=cfg.name, config=cfg.model_dump(mode="json"),
                          status="running", epochs=cfg.epochs, epochs_done=0)

    def save_epoch(self, run_id: str, state: dict, history: dict, snapshot: dict | None, epoch: int) -> None:
        """Persist one finished epoch: snapshot first, then history, then weights (the commit point).

        The weights' sha256 goes into the index before the rename, next to the previous one, so a reader who
        hashes the file and then reads the index always finds the hash of the file it read."""
        d = self.run_dir(run_id)
        if snapshot is not None:
            atomic_write(d / "snapshots" / f"epoch-{epoch:04d}.pt", lambda f: torch.save(snapshot, f))
        write_json(d / "history.json", history)
        buf = io.BytesIO()
        torch.save(state, buf)
        data = buf.getbuffer()
        previous = ((self.meta(run_id) or {}).get("state_sha256") or [])[:1]
        self.set_meta(run_id, state_sha256=[hashlib.sha256(data).hexdigest(), *previous])
        atomic_write(self.state_path(run_id), lambda f: f.write(data))
        last = history["epochs"][-1] if history.get("epochs") else {}
        self.set_meta(run_id, epochs_done=epoch, train=last.get("train"), heldout=last.get("heldout"))

    def sweep(self) -> int:
        """Remove temp files older than TEMP_MAX_AGE_S that crashed writers left in the store; returns how many."""
        folders = [self.root, *(self.root / "runs").glob("*"), *(self.root / "runs").glob("*/snapshots")]
        return sum(sweep_temp(d) for d in folders)

    # ---- reading a run ----------------------------------------------------------------------
    def load_state(self, run_id: str, device: str | torch.device = "cpu") -> dict | None:
        """The checkpoint (None if the run has none yet); DamagedCheckpoint if it is damaged."""
        p = self.state_path(run_id)
        if not p.exists():
            return None
        why = self.damaged(run_id)
        if why:
            raise DamagedCheckpoint(f"the checkpoint of run {run_id} is damaged ({why}): retrain it "
                                    "(training the same settings again starts it afresh)")
        return torch.load(p, map_location=device, weights_only=True)

    def history(self, run_id: str) -> dict:
        p = self.run_dir(run_id) / "history.json"
        return read_json(p) if p.exists() else {"steps": [], "epochs": [], "events": []}

    def snapshot_epochs(self, run_id: str) -> list[int]:
        d = self.run_dir(run_id) / "snapshots"
        return sorted(int(p.stem.split("-")[1]) for p in d.glob("epoch-*.pt")) if d.exists() else []

    def snapshot(self, run_id: str, epoch: int | None = None) -> dict | None:
        """The snapshot of `epoch` (default: the latest); None if there is none or it does not load."""
        epochs = self.snapshot_epochs(run_id)
        if not epochs:
            return None
        e = epochs[-1] if epoch is None else int(epoch)
        p = self.run_dir(run_id) / "snapshots" / f"epoch-{e:04d}.pt"
        try:
            return torch.load(p, map_location="cpu", weights_only=True) if p.exists() else None
        except Exception:  # noqa: BLE001 - a damaged snapshot is a missing picture, not a broken page
            return None

    def load_model(self, run_id: str, device: str = "cpu") -> tuple[RunConfig, Autoencoder]:
        """(config, model in eval mode) of a stored run; DamagedCheckpoint if its checkpoint is damaged."""
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
        """Copy a run's files to another id (its checkpoint hash too, where dst is indexed already)."""
        try:
            shutil.copytree(self.run_dir(src), self.run_dir(dst), dirs_exist_ok=True)
        except (OSError, shutil.Error) as e:
            if is_disk_full(e) or "No space left" in str(e):  # shutil.Error lists the failed copies as text
                raise DiskFull(f"disk full: cannot copy run {src} to continue it as {dst}") from e
            raise
        if self.meta(dst) is not None:
            self.set_meta(dst, state_sha256=(self.meta(src) or {}).get("state_sha256"))

    def delete(self, run_id: str) -> None:
        """Delete a run's files and index entry; RunLocked if another process is training it."""
        with self.writing(run_id):
            shutil.rmtree(self.run_dir(run_id), ignore_errors=True)
            self.index.delete(f"run:{run_id}")
