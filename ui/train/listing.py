"""The lecture's code listing beside the engine's `print(model)` for the settings on the Train page, and where
the two differ (from engine.teaching.lecture)."""

from __future__ import annotations

import streamlit as st

from engine.core.config import RunConfig
from engine.data import load
from engine.teaching.lecture import differences, listing, printed_model


def lecture_vs_engine(cfg: RunConfig) -> None:
    """Two columns of code (the lecture's listing, the engine's printed model) and the differences below."""
    try:
        shape = load(cfg.dataset).shape
    except Exception:  # noqa: BLE001 - an unavailable dataset: show the model for MNIST-sized images
        shape = (1, 28, 28)
    lec = listing(cfg)
    try:
        printed, params = printed_model(cfg, shape)
    except ValueError as e:  # e.g. a CNN on images it cannot take: the Train page already says why
        st.caption(f"No model to print: {e}.")
        return
    left, right = st.columns(2)
    with left:
        st.markdown(f"**The lecture's code** — {lec.title}")
        st.code(lec.model, language="python", wrap_lines=True)
        with st.expander("its loss and training loop"):
            st.code(lec.loss, language="python", wrap_lines=True)
    with right:
        st.markdown(f"**`print(model)` of this run's model** — {params:,} parameters")
        st.code(printed, language="text", wrap_lines=True)
    st.markdown("**Where they differ**\n\n" + "\n".join(f"- {line}" for line in differences(cfg)))
