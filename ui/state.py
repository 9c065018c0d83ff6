"""Session-state keys the pages share, and the one helper that sets them."""

from __future__ import annotations

import streamlit as st

JOB_KEY = "job_id"  # the job launched last (Live run's default)
RUN_KEY = "selected_run"  # the run opened last (Reconstructions / Samples / Latent space default)


def select_run(run_id: str | None) -> None:
    """Make `run_id` the run the viewing pages open by default (also the Live run job)."""
    st.session_state[RUN_KEY] = run_id
    if run_id:
        st.session_state[JOB_KEY] = run_id
