"""Selectboxes and sliders over runs, jobs and epochs, with the defaults a student expects (the run opened
or launched last) and a hint when there is nothing to pick."""

from __future__ import annotations

import streamlit as st

from engine.core.config import RunConfig
from engine.jobs import Backend, JobError, JobInfo
from engine.teaching.narration import run_label

from .backend import store
from .nav import link
from .runs import config_of, runs
from .state import JOB_KEY, RUN_KEY


def _keep_valid(key: str, options: list) -> None:
    """Forget the widget's old choice when it is no longer an option (e.g. the run was deleted since)."""
    if key in st.session_state and st.session_state[key] not in options:
        del st.session_state[key]


def run_picker(label: str = "Run", key: str = "run", variational: bool | None = None,
               default: str | None = None, help: str | None = None) -> str | None:
    """A selectbox over stored runs with at least one finished epoch; returns the run id or None.

    Defaults to `default`, else the run opened on the Runs page / launched last. Shows a hint when empty."""
    metas = runs(variational=variational)
    if not metas:
        what = {True: "VAE ", False: "autoencoder ", None: ""}[variational]
        st.info(f"No finished {what}epochs yet. Train one on the **Train** page (a 2-epoch run takes seconds), "
                "then come back.")
        link("train", "Go to Train")
        return None
    ids = [m["run_id"] for m in metas]
    labels = {m["run_id"]: run_label(m) for m in metas}
    want = default or st.session_state.get(RUN_KEY) or st.session_state.get(JOB_KEY)
    _keep_valid(key, ids)
    return st.selectbox(label, ids, index=ids.index(want) if want in ids else 0, format_func=labels.get, key=key,
                        help=help)


def run_and_config(label: str = "Run", key: str = "run", help: str | None = None) -> tuple[str, RunConfig]:
    """run_picker() plus the run's settings; stops the page (with a hint) when there is no run to show."""
    rid = run_picker(label, key=key, help=help)
    if not rid:
        st.stop()
    cfg = config_of(rid)
    if cfg is None:
        st.error("This run's settings could not be read (was it deleted?). Pick another run.")
        st.stop()
    return rid, cfg


def job_picker(be: Backend, label: str = "Job", key: str = "job") -> JobInfo | None:
    """A selectbox over the backend's jobs, defaulting to the last launched; returns its JobInfo or None."""
    try:
        jobs = be.jobs()
    except JobError as e:
        st.error(str(e))
        return None
    if not jobs:
        return None
    ids = [j.job_id for j in jobs]
    by_id = {j.job_id: j for j in jobs}
    want = st.session_state.get(JOB_KEY)
    _keep_valid(key, ids)
    jid = st.selectbox(label, ids, index=ids.index(want) if want in ids else 0, key=key,
                       format_func=lambda i: run_label({"config": by_id[i].config, "run_id": i}))
    return by_id[jid]


def snapshot_epoch_slider(run_id: str, key: str, label: str = "Epoch") -> int | None:
    """A slider over the epochs that have snapshots (latest by default); None if there are none."""
    epochs = store().snapshot_epochs(run_id)
    if not epochs:
        st.info("This run has no finished epoch yet.")
        return None
    if len(epochs) == 1:
        st.caption(f"{label}: {epochs[0]} (the only finished epoch)")
        return epochs[0]
    _keep_valid(key, epochs)
    return st.select_slider(label, options=epochs, value=epochs[-1], key=key,
                            help="Snapshots are taken after every epoch: slide back to see how training got here.")
