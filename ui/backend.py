"""The job backend and the checkpoint store of this server, as every session shares them."""

from __future__ import annotations

import os

import streamlit as st

from engine.core.store import Store
from engine.jobs import Backend, get_backend


@st.cache_resource(show_spinner=False)
def _backend(name: str, root: str) -> Backend:
    return get_backend(name)


def backend() -> Backend:
    """The job backend of this server (embedded unless AE_LAB_BACKEND says otherwise).

    One per (backend name, checkpoint folder), so a test that points AE_LAB_CHECKPOINTS elsewhere gets its own."""
    return _backend(os.environ.get("AE_LAB_BACKEND", "embedded"), os.environ.get("AE_LAB_CHECKPOINTS", ""))


def plain_backend() -> Backend | None:
    """backend(), or None after showing on the page why background jobs are unavailable."""
    try:
        return backend()
    except Exception as e:  # noqa: BLE001 - any failure here means the same to the user
        st.error(f"Background training is unavailable: {e}. Finished runs can still be viewed.")
        return None


@st.cache_resource(show_spinner=False, max_entries=8)
def _store(root: str) -> Store:
    return Store(root or None)


def store() -> Store:
    """The checkpoint store, one per folder shared by every session (opening its index costs a few ms; every page
    asks several times per run). Reads $AE_LAB_CHECKPOINTS each time, so a test that points it elsewhere gets its
    own. Pages only read through it: writes go through the backend."""
    return _store(os.environ.get("AE_LAB_CHECKPOINTS", ""))
