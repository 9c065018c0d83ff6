"""Compare runs: loss curves overlaid, final metrics, reconstructions of the same digits, rate–distortion plane."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui.common import page_config, run_label, runs, show_grid, snapshot, store
from ui.lesson_ui import lines, scatter

page_config("Compare runs", ":material/balance:")
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


def short(rid: str) -> str:
    c = s.meta(rid).get("config") or {}
    kind = "VAE" if c.get("variational") else "AE"
    beta = f" β={c.get('beta'):g}" if c.get("variational") else ""
    return f"{c.get('name', '?')} {kind}{beta} z={c.get('latent_dim')} · {rid[:6]}"


curves, table, plane = [], [], []
for rid in picked:
    h = s.history(rid)
    name = short(rid)
    for e in h.get("epochs", []):
        held = e.get("heldout", {})
        curves.append({"run": name, "epoch": e["epoch"], "held-out loss": held.get("loss"),
                       "held-out pixel error": held.get("mse01"), "held-out KL": held.get("kl")})
    eps = h.get("epochs") or []
    last = (eps or [{}])[-1]
    held, tr = last.get("heldout", {}), last.get("train", {})
    c = s.meta(rid).get("config") or {}
    table.append({"run": name, "epochs": last.get("epoch"), "dataset": c.get("dataset"),
                  "loss (train)": tr.get("loss"), "loss (held-out)": held.get("loss"),
                  "reconstruction (held-out)": held.get("recon"), "KL (held-out)": held.get("kl"),
                  "pixel error (held-out)": held.get("mse01"), "posterior σ": held.get("posterior_std"),
                  "seconds / epoch": sum(e.get("seconds", 0) for e in eps) / max(1, len(eps))})
    if held.get("mse01") is not None:
        plane.append({"run": name, "rate = KL (nats)": held.get("kl") or 0.0,
                      "distortion = pixel error": held["mse01"]})

a, b = st.columns(2)
metric = a.radio("Curve", ["held-out pixel error", "held-out loss", "held-out KL"], horizontal=True, key="cmp_metric")
pts = [r for r in curves if r[metric] is not None]
if pts:
    a.altair_chart(lines(pts, "epoch", metric, "run", f"{metric} per epoch"), width="stretch")
    a.caption("The loss is in each run's own units (MSE or BCE, mean or sum): compare losses only between runs "
              "with the same loss; the pixel error compares everything.")
if plane:
    b.altair_chart(scatter(plane, "rate = KL (nats)", "distortion = pixel error", color="run",
                           title="Rate–distortion plane (AEs sit at KL = 0)"), width="stretch")
    b.caption("Lower-left is better on both. Moving along a β sweep trades one for the other.")
st.dataframe(pd.DataFrame(table).round(4), hide_index=True)

st.subheader("The same held-out digits")
first = snapshot(picked[0])
if first is not None:
    show_grid(first["orig"][:8], "originals", nrow=8)
for rid in picked:
    snap = snapshot(rid)
    if snap is None:
        st.caption(f"{short(rid)}: no snapshot")
        continue
    err = (snap["orig"][:8].float() / 255 - snap["recon"][:8].float() / 255).pow(2).flatten(1).sum(1)
    show_grid(snap["recon"][:8], f"{short(rid)} · errors " + " · ".join(f"{e:.1f}" for e in err.tolist()), nrow=8)
