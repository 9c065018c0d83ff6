"""The runs this user sees (classroom mode: their own): the list, launching one, and reading one back —
settings, snapshots and the model, cached until the run's checkpoint changes — and its export."""

from __future__ import annotations

import streamlit as st

from engine.core.config import ConfigError, RunConfig
from engine.core.models import Autoencoder
from engine.core.store import DamagedCheckpoint, Store
from engine.data import load
from engine.jobs import JobError
from engine.teaching.applications import anomaly_report, elbo_scores, recon_scores
from engine.teaching.export import export_zip

from .access.auth import try_user_backend, visible_run_ids
from .backend import store
from .state import select_run


def runs(with_snapshots: bool = True, variational: bool | None = None) -> list[dict]:
    """Stored runs (newest first) that have at least one epoch on disk; optionally only VAEs / only AEs."""
    visible = visible_run_ids()  # None: all (local mode, instructors); else a student's own runs
    out = []
    for m in store().runs():
        if visible is not None and m["run_id"] not in visible:
            continue
        if with_snapshots and not m.get("epochs_done"):
            continue
        if variational is not None and bool((m.get("config") or {}).get("variational")) != variational:
            continue
        out.append(m)
    return out


def submit(cfg: RunConfig, quiet: bool = False) -> str | None:
    """Submit `cfg` to the background backend and make it the selected run; returns the job id, or None
    after saying on the page why it could not start (unless `quiet`)."""
    be = try_user_backend()
    if be is None:
        return None
    try:
        jid = be.submit(cfg)
    except (JobError, ConfigError) as e:
        if not quiet:
            st.error(f"Could not start the run: {e}")
        return None
    select_run(jid)
    return jid


def config_of(run_id: str) -> RunConfig | None:
    """The run's settings, or None for a half-written or deleted run."""
    try:
        return store().config(run_id)
    except Exception:  # noqa: BLE001 - a half-written or deleted run
        return None


def kl_per_dim(run_id: str) -> list[float] | None:
    """A VAE run's latest held-out KL per latent dimension (None when not recorded)."""
    epochs = store().history(run_id).get("epochs") or []
    return next((e["heldout"]["kl_per_dim"] for e in reversed(epochs) if e.get("heldout", {}).get("kl_per_dim")),
                None)


def _dataset_or_none(dataset: str):
    """The loaded dataset, or None when it cannot be loaded (what the callers show from it is then left out)."""
    try:
        return load(dataset)
    except Exception:  # noqa: BLE001 - an unavailable dataset only costs a label
        return None


def class_names(dataset: str) -> list[str] | None:
    """The dataset's class names, or None when it cannot be loaded."""
    d = _dataset_or_none(dataset)
    return d.classes if d is not None else None


def heldout_count(dataset: str) -> int | None:
    """How many held-out images the dataset has (every epoch's held-out metrics use all of them), or None."""
    d = _dataset_or_none(dataset)
    return len(d.test_x) if d is not None else None


def checkpoint_mtime(run_id: str) -> float | None:
    """When the run's weights were last written (None: no checkpoint yet): the key of the caches below."""
    p = store().run_dir(run_id) / "state.pt"
    return p.stat().st_mtime if p.exists() else None


@st.cache_data(show_spinner=False, max_entries=64)
def _snapshot(root: str, run_id: str, epoch: int | None, mtime: float) -> dict | None:
    return Store(root).snapshot(run_id, epoch)


def snapshot(run_id: str, epoch: int | None = None) -> dict | None:
    """A run's snapshot of `epoch` (default: latest), cached between reruns."""
    s = store()
    epochs = s.snapshot_epochs(run_id)
    if not epochs:
        return None
    e = epochs[-1] if epoch is None else epoch
    p = s.run_dir(run_id) / "snapshots" / f"epoch-{e:04d}.pt"
    if not p.exists():
        return None
    return _snapshot(str(s.root), run_id, e, p.stat().st_mtime)


def spread_out(epochs: list[int], n: int) -> list[int]:
    """At most n of `epochs`, evenly spread, the first and the last included (e.g. one row per epoch shown)."""
    if len(epochs) <= n:
        return list(epochs)
    return [epochs[round(i * (len(epochs) - 1) / (n - 1))] for i in range(n)]


@st.cache_resource(show_spinner=False, max_entries=8)
def _model(root: str, run_id: str, mtime: float) -> tuple[RunConfig, Autoencoder]:
    return Store(root).load_model(run_id)


def load_model(run_id: str) -> tuple[RunConfig, Autoencoder]:
    """(config, model in eval mode) of a stored run, cached until its checkpoint changes."""
    mtime = checkpoint_mtime(run_id)
    if mtime is None:
        raise FileNotFoundError(f"run {run_id[:8]} has no checkpoint yet: let it finish an epoch")
    return _model(str(store().root), run_id, mtime)


def model_or_error(run_id: str) -> Autoencoder | None:
    """The run's model, or None after saying on the page why it cannot be loaded."""
    try:
        return load_model(run_id)[1]
    except (FileNotFoundError, RuntimeError) as e:
        st.error(f"Could not load this run's model: {e}")
        return None


@st.cache_data(show_spinner=False, max_entries=8)
def _zip(root: str, run_id: str, mtime: float) -> bytes:
    return export_zip(Store(root), run_id)


def may_open(run_id: str) -> bool:
    """May the current user open (view, download) this run? Always in local mode and for instructors."""
    visible = visible_run_ids()
    return visible is None or run_id in visible


def download_button(run_id: str, key: str) -> None:
    """Download the run's weights + standalone model.py + config.json as a zip (nothing before its first epoch,
    nothing for a run the user may not open, a message for a damaged checkpoint)."""
    mtime = checkpoint_mtime(run_id)
    if mtime is None or not may_open(run_id):
        return
    try:
        data = _zip(str(store().root), run_id, mtime)
    except DamagedCheckpoint as e:
        st.caption(f"Export unavailable: {e}")
        return
    except FileNotFoundError:
        st.caption("Export unavailable: this run has no finished epoch to export (yet)")
        return
    except OSError as e:  # the server's paths stay out of the page
        st.caption(f"Export unavailable: {e.strerror or type(e).__name__}")
        return
    st.download_button("Download model (weights, model.py, config)", data, file_name=f"{run_id}.zip",
                       mime="application/zip", key=key, icon=":material/download:",
                       help="model.py defines the network and load(); use it in a notebook with only torch installed.")


@st.cache_data(show_spinner="Scoring the 10,000 held-out digits…", max_entries=24)
def _anomaly_report(run_id: str, score: str, digit: int, mtime: float | None) -> dict:
    cfg, model = load_model(run_id)
    d = load("mnist")
    scores = (elbo_scores if score == "elbo" else recon_scores)(model, cfg, d.test_x)
    return anomaly_report(scores, d.test_y, digit, d.test_x)


def anomaly_report_of(run_id: str, digit: int, score: str = "recon") -> dict:
    """The run's anomaly report over the held-out MNIST digits with `digit` as the anomaly, scored by
    reconstruction error ("recon") or, for a VAE, −ELBO ("elbo"). Computed once per checkpoint and shared: the
    Applications page reruns all its tabs on every widget, and the tour's step on every click."""
    return _anomaly_report(run_id, score, digit, checkpoint_mtime(run_id))


def anomaly_reports(ae_id: str, vae_id: str, digit: int) -> dict[str, dict]:
    """Score name -> anomaly report, for an AE and a VAE trained without `digit` (see `anomaly_report_of`)."""
    return {"AE reconstruction error": anomaly_report_of(ae_id, digit),
            "VAE reconstruction error": anomaly_report_of(vae_id, digit),
            "VAE −ELBO": anomaly_report_of(vae_id, digit, "elbo")}
