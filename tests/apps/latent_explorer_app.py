"""A small app for the browser tests and the benchmark of the latent explorer (ui/latent_map/explorer.py): a
seeded, untrained model of a preset (AE_LAB_EXPLORER_PRESET, default seed-vae) over the bundled MNIST's held-out
digits, with every view of the component. Untrained weights decode grey blobs, but every code decodes to a
different one, and the weights are as large as a trained model's: what the tests and the timings need."""

from __future__ import annotations

import os
from dataclasses import replace

import streamlit as st
import torch

from engine.core.models import build_model
from engine.core.presets import preset
from engine.teaching.latent import plane_range, project_2d, square, sweep
from engine.teaching.posterior import posterior_params, prior_contours
from ui.heldout import heldout_images
from ui.latent_map.explorer import View, draw_view, hold, map_view, path_view, pinned_caption, sweep_view


@st.cache_resource
def _model(name: str):
    torch.manual_seed(0)
    return build_model(preset(name)).eval()


cfg = preset(os.environ.get("AE_LAB_EXPLORER_PRESET", "seed-vae"))
model = _model(cfg.name)
images = heldout_images("mnist", 1000)
mu, logvar = posterior_params(model, images)
proj = project_2d(mu)
domain = square(*plane_range(proj["xy"], cfg.variational))
view = View(proj, torch.arange(len(mu)) % 10, [str(i) for i in range(10)], domain, logvar, mu, 20,
            prior_contours(proj) if cfg.variational else None)
errors = torch.linspace(10, 80, len(mu))  # stand-ins for the held-out reconstruction errors (fixed: same every run)
st.title(f"Latent explorer test: {cfg.name}")
held = hold(model, proj, images)
if held is None:
    st.stop()
point = map_view("map", held, view)
st.caption(pinned_caption(point, view))
st.button("Rerun the page")
draw_view("draw", held, replace(view, errors=errors))
values = sweep(mu, 0, 0, 3.0)
sweep_view("sweep", held, mu[0], 0, values, "z1 swept around held-out #0")
path_view("path", held, view, mu[1], mu[2], (1, 2))
