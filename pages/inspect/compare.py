"""Compare runs: loss curves overlaid, final metrics, reconstructions of the same digits, rate–distortion plane."""

from __future__ import annotations

import streamlit as st

from engine.teaching.narration import run_label
from ui.backend import store
from ui.draw.images import pixel_error, show_grid
from ui.draw.plots import lines, scatter
from ui.draw.tables import comparison, short_name
from ui.draw.vega import show_chart
from ui.runs import runs, snapshot

st.title("Compare runs")
st.caption("Pick finished runs to put side by side. Every run sees the same held-out digits, so pixel errors "
           "(squared error per image, pixels in [0, 1]) compare across models and losses.")

s = store()
metas = runs()  # runs with a finished epoch (in classroom mode, a student's own)
if not metas:
    st.info("No finished runs yet. Train some on the **Train** page, or open a lesson on the **Lessons** page — "
            "then come back to compare them.")
    st.stop()

labels = {m["run_id"]: run_label(m) for m in metas}
ids = list(labels)
picked = st.multiselect("Runs", ids, default=ids[:min(3, len(ids))], format_func=labels.get, key="cmp_runs")
if not picked:
    st.info("Pick at least one run.")
    st.stop()

histories = {rid: (s.meta(rid).get("config") or {}, s.history(rid)) for rid in picked}
names = {rid: short_name(rid, *h) for rid, h in histories.items()}
curves, table, plane = comparison(histories)

a, b = st.columns(2)
metric = a.radio("Curve", ["held-out pixel error", "held-out loss", "held-out KL"], horizontal=True, key="cmp_metric")
pts = [r for r in curves if r[metric] is not None]
if pts:
    show_chart(lines, pts, "epoch", metric, "run", f"{metric} per epoch", where=a)
    a.caption("The loss is in each run's own units (MSE or BCE, mean or sum): compare losses only between runs "
              "with the same loss; the pixel error compares everything.")
if plane:
    show_chart(scatter, plane, "rate = KL (nats)", "distortion = pixel error", color="run",
               title="Rate–distortion plane (AEs sit at KL = 0)", where=b)
    b.caption("Lower-left is better on both. Moving along a β sweep trades one for the other.")
st.dataframe(table, hide_index=True)

st.subheader("The same held-out digits")
first = snapshot(picked[0])
if first is not None:
    show_grid(first["orig"][:8], "originals", nrow=8)
for rid in picked:
    snap = snapshot(rid)
    if snap is None:
        st.caption(f"{names[rid]}: no snapshot")
        continue
    err = pixel_error(snap["orig"][:8], snap["recon"][:8], per_image="sum")
    show_grid(snap["recon"][:8], f"{names[rid]} · errors " + " · ".join(f"{e:.1f}" for e in err),
              nrow=8)
