"""The instructor's "Prepare demo pack" button: every lesson's runs (and the Applications page's) submitted to the
job backend in one click, with a progress bar of how many are ready. Local mode: anyone (it is their machine);
classroom mode: instructors only. Nothing trains in the script thread."""

from __future__ import annotations

import streamlit as st

from engine.jobs import ACTIVE, JobError
from engine.jobs.classroom import INSTRUCTOR
from engine.teaching.pack import demo_pack, untrained

from ..access.auth import current_user, try_user_backend
from ..backend import store
from ..background import submit_all

REFRESH_S = 2.0


def may_prepare() -> bool:
    """Whether this user may train the whole pack: an instructor (in local mode everyone is one)."""
    return current_user()[1] == INSTRUCTOR


def _ready(size: str) -> tuple[int, int, list]:
    pack = demo_pack(size)
    missing = [cfg for _, cfg in untrained(pack, store())]
    return len(pack) - len(missing), len(pack), missing


def _busy(be, missing: list) -> bool:
    for cfg in missing:
        try:
            if be.status(cfg.run_id()).status in ACTIVE:
                return True
        except JobError:
            continue
    return False


def prepare_panel(size: str) -> None:
    """The button and its progress bar (instructors only in classroom mode); call it inside the sidebar."""
    if not may_prepare():
        return
    ready, total, missing = _ready(size)
    st.markdown("**Demo pack**")
    if not missing:
        st.progress(1.0, text=f"{total} of {total} runs ready: every lesson and the tour open at once")
        return
    be = try_user_backend()
    if be is not None and _busy(be, missing):
        _poll(size)
        return
    st.progress(ready / total, text=f"{ready} of {total} runs ready")
    if st.button("Prepare demo pack", key="prepare_pack", disabled=be is None, icon=":material/rocket_launch:",
                 help=f"Trains the {len(missing)} missing runs of every lesson and the Applications page in the "
                      "background, shortest first (a longer run continues a shorter one of the same settings). "
                      "Afterwards every lesson and the tour open without training, for everyone on this server."):
        if submit_all(be, missing):
            st.rerun()


def _poll(size: str) -> None:
    @st.fragment(run_every=REFRESH_S)
    def bar() -> None:
        ready, total, missing = _ready(size)
        st.progress(ready / total, text=f"Training: {ready} of {total} runs ready")  # the pack's, or a lesson's runs
        if not missing:
            st.rerun()

    bar()
