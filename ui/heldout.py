"""Held-out digits and what a run's model makes of them, cached until the run's checkpoint changes: the images
(the snapshot's codes are those of the first N of them, in order), the posteriors (μ, log σ²) and the
reconstruction errors the drawn digit is ranked against. Every function returns None (after saying why on
the page, where the student needs to know) instead of raising."""

from __future__ import annotations

import streamlit as st
import torch

from engine.data import load
from engine.teaching.drawing import recon_error
from engine.teaching.posterior import posterior_params

from .runs import checkpoint_mtime, load_model


@st.cache_resource(show_spinner=False, max_entries=4)
def _images(dataset: str, n: int) -> torch.Tensor | None:
    try:
        return load(dataset).test_x[:n]
    except Exception:  # noqa: BLE001 - an unavailable dataset: the callers say what is missing
        return None


def heldout_images(dataset: str, n: int) -> torch.Tensor | None:
    """The first n held-out images (N, C, H, W) in [0, 1], or None when the dataset cannot be loaded."""
    return _images(dataset, int(n))


@st.cache_resource(show_spinner=False, max_entries=8)
def _posteriors(run_id: str, dataset: str, n: int, mtime: float) -> tuple[torch.Tensor, torch.Tensor | None] | None:
    x = heldout_images(dataset, n)
    return None if x is None else posterior_params(load_model(run_id)[1], x)


def posteriors(run_id: str, dataset: str, n: int) -> tuple[torch.Tensor, torch.Tensor | None] | None:
    """(μ, log σ²) of the first n held-out digits under the run's latest weights ((code, None) for an AE)."""
    mtime = checkpoint_mtime(run_id)
    return None if mtime is None else _posteriors(run_id, dataset, int(n), mtime)


@st.cache_resource(show_spinner=False, max_entries=8)
def _errors(run_id: str, dataset: str, n: int, mtime: float) -> torch.Tensor | None:
    x = heldout_images(dataset, n)
    return None if x is None else recon_error(load_model(run_id)[1], x)


def heldout_errors(run_id: str, dataset: str, n: int = 1000) -> torch.Tensor | None:
    """The squared pixel error of each of the first n held-out digits' reconstructions (the anomaly scores of
    normal digits), under the run's latest weights."""
    mtime = checkpoint_mtime(run_id)
    return None if mtime is None else _errors(run_id, dataset, int(n), mtime)

