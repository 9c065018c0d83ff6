"""Small helpers every page uses: the backend and store (one per server process), image grids."""

from __future__ import annotations

import numpy as np
import streamlit as st
import torch
from torchvision.utils import make_grid

from engine.jobs import Backend, get_backend
from engine.store import Store


@st.cache_resource
def backend() -> Backend:
    """The job backend of this server (embedded unless AE_LAB_BACKEND says otherwise)."""
    return get_backend()


def store() -> Store:
    """The checkpoint store (cheap to create; reads $AE_LAB_CHECKPOINTS each time so tests can isolate)."""
    return Store()


def grid(images: torch.Tensor, nrow: int = 8, pad: int = 2, scale: int = 3) -> np.ndarray:
    """uint8 images (N, C, H, W) -> one uint8 HxW(x3) picture, upscaled `scale`x with crisp pixels."""
    x = images.float() / 255.0
    g = make_grid(x, nrow=nrow, padding=pad, pad_value=0.5)  # (3, H, W)
    g = g.repeat_interleave(scale, 1).repeat_interleave(scale, 2)
    return (g.permute(1, 2, 0).clamp(0, 1).numpy() * 255).astype(np.uint8)
