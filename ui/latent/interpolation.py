"""Interpolation, AE vs VAE side by side: two held-out digits, the straight path between their codes drawn on
each run's map and decoded step by step, and how far each step is from any real digit.

    interpolation_panel(key)    run pickers (an AE, a VAE), endpoint pickers, the two paths
"""

from __future__ import annotations

import streamlit as st
import torch

from engine.teaching.latent import (
    interpolate,
    pixel_distance_to_data,
    plane_range,
    project_2d,
    square,
    to_plane,
)

from ..draw.images import show_grid
from ..heldout import heldout_images
from ..latent_map.explorer import View, hold, path_view
from ..latent_map.layers import curve_layer, latent_map_chart, marker_layer
from ..pickers import run_picker
from ..runs import class_names, config_of, model_or_error, runs, snapshot
from ..state import RUN_KEY

STEPS = 10


def _endpoints(labels: torch.Tensor, classes: list[str] | None, key: str) -> tuple[int, int] | None:
    """Two held-out digits chosen by class (and which example of it); their indices."""
    present = sorted({int(v) for v in labels.tolist()})
    if len(present) < 1:
        return None
    name = (lambda c: classes[c] if classes and c < len(classes) else str(c))
    c1, c2, c3 = st.columns(3)
    a = c1.selectbox("From a", present, index=0, format_func=name, key=f"{key}_a")
    b = c2.selectbox("to a", present, index=min(len(present) - 1, 6 if len(present) > 6 else 1), format_func=name,
                     key=f"{key}_b")
    ex = int(c3.number_input("Which example of each (0 = the first held-out one)", 0, 20, 0, key=f"{key}_ex"))
    picks = []
    for c in (a, b):
        idx = torch.nonzero(labels == c).flatten()
        picks.append(int(idx[min(ex, len(idx) - 1)]))
    return picks[0], picks[1]


def _one_path(run_id: str, ends: tuple[int, int], real: torch.Tensor, key: str) -> None:
    """One run's map with the path, the decoded path between the two originals, and its distances to data; in the
    browser (dragged along the path) when the model runs there."""
    cfg, snap, model = config_of(run_id), snapshot(run_id), model_or_error(run_id)
    if cfg is None or snap is None or model is None:
        return
    kind = "VAE" if cfg.variational else "AE"
    x = real[list(ends)]
    z = model.code(x).cpu()
    path = interpolate(model, z[0], z[1], STEPS)
    proj = project_2d(snap["latent"].float())
    domain = square(*plane_range(proj["xy"], cfg.variational))
    pts = to_plane(proj, torch.stack([(1 - t) * z[0] + t * z[1] for t in torch.linspace(0, 1, STEPS)])).numpy()
    above = [curve_layer(pts, domain, dots=True), marker_layer(*map(float, pts[0]), "A", domain),
             marker_layer(*map(float, pts[-1]), "B", domain)]
    st.markdown(f"**{kind}** · {cfg.short()}")
    held = hold(model, proj, real, note=False)
    if held is not None:
        path_view(key, held, View(proj, snap["labels"], class_names(cfg.dataset), domain), z[0], z[1], ends, STEPS)
    else:
        st.vega_lite_chart(latent_map_chart(proj["xy"], snap["labels"], proj["axes"], class_names(cfg.dataset),
                                            domain, clickable=False, above=above, height=260, legend=False),
                           width="content")
        show_grid(torch.cat([x[:1].cpu(), path, x[1:].cpu()]), "original A · the path decoded in 10 steps · "
                  "original B", nrow=STEPS + 2, scale=2)
    far = pixel_distance_to_data(path, real)
    ends, middle = float((far[0] + far[-1]) / 2), float(far[1:-1].max())
    st.caption(f"Squared pixel distance from each step to the closest of {len(real):,} real held-out digits: "
               f"**{ends:.1f}** at the ends, up to **{middle:.1f}** in between (mean {float(far.mean()):.1f}). "
               "A rise in the middle means the path crossed space where the decoder makes no real digit.")


def _defaults(opened: str | None) -> tuple[str | None, str | None]:
    """(AE, VAE) runs the pickers start on: the opened run on its side, and on the other the newest run of that
    kind trained on the same dataset (None: the pickers' own default)."""
    metas = runs()
    cfg = next((m.get("config") or {} for m in metas if m["run_id"] == opened), None)
    if cfg is None:
        return None, None
    vae = bool(cfg.get("variational"))
    other = next((m["run_id"] for m in metas if bool((m.get("config") or {}).get("variational")) != vae
                  and (m.get("config") or {}).get("dataset") == cfg.get("dataset")), None)
    return (opened, other) if not vae else (other, opened)


def interpolation_panel(key: str = "ip") -> None:
    """Pick an AE run and a VAE run and two held-out digits; see both paths decoded side by side."""
    ae_default, vae_default = _defaults(st.session_state.get(RUN_KEY))  # the other side on the opened run's data
    left, right = st.columns(2)
    with left:
        ae = run_picker("An AE run", key=f"{key}_ae", variational=False, default=ae_default)
    with right:
        vae = run_picker("A VAE run", key=f"{key}_vae", variational=True, default=vae_default)
    chosen = [r for r in (ae, vae) if r]
    if not chosen:
        return
    cfgs = [config_of(r) for r in chosen]
    if any(c is None for c in cfgs) or len({c.dataset for c in cfgs}) > 1:
        st.warning("Pick two runs trained on the same dataset, so they encode the same digits.")
        return
    snap = snapshot(chosen[0])
    real = heldout_images(cfgs[0].dataset, len(snap["labels"])) if snap else None
    if real is None:
        st.info("The held-out digits of this dataset could not be loaded.")
        return
    ends = _endpoints(snap["labels"][: len(real)], class_names(cfgs[0].dataset), key)
    if ends is None:
        return
    cols = st.columns(2)
    for col, rid in zip(cols, (ae, vae), strict=True):
        if rid:
            with col:
                _one_path(rid, ends, real, f"{key}_{'vae' if rid == vae else 'ae'}")
