"""Altair charts shared by the pages. Pure functions: data in, `alt.Chart` out (draw with
`st.altair_chart(chart, width="stretch")`). No Streamlit here, so they are easy to test.
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import numpy as np
import pandas as pd

MAX_POINTS = 500  # longer histories are averaged into this many buckets so the page stays fast

TERM_NAMES = {
    "recon": "reconstruction",
    "kl": "KL to the prior",
    "contractive": "contractive penalty",
    "sparsity": "sparsity KL",
    "loss": "total loss (minimised)",
    "beta": "β in effect",
}
COLORS = {
    "reconstruction": "#1f77b4",
    "KL to the prior": "#ff7f0e",
    "contractive penalty": "#9467bd",
    "sparsity KL": "#8c564b",
    "total loss (minimised)": "#2ca02c",
    "β in effect": "#d62728",
    "held-out reconstruction": "#1f77b4",
    "held-out KL": "#ff7f0e",
}


def downsample(points: Sequence[dict], max_points: int = MAX_POINTS) -> pd.DataFrame:
    """Step points -> a DataFrame of at most `max_points` rows (bucket means; the last point is kept)."""
    df = pd.DataFrame(list(points))
    if df.empty:
        return df
    df = df.select_dtypes(include="number")
    n = len(df)
    if n <= max_points:
        return df.reset_index(drop=True)
    bucket = np.arange(n) * max_points // n
    out = df.groupby(bucket).mean()
    out.iloc[-1] = df.iloc[-1]
    return out.reset_index(drop=True)


def _steps_of(history) -> tuple[list, list, list]:
    if isinstance(history, dict):
        return history.get("steps") or [], history.get("epochs") or [], history.get("events") or []
    return list(history or []), [], []


def _progress_at(df: pd.DataFrame, step: float) -> float:
    """Epoch progress (x axis) of an optimizer step, interpolated from the logged points."""
    if "step" not in df or "progress" not in df or df.empty:
        return float("nan")
    return float(np.interp(step, df["step"].to_numpy(), df["progress"].to_numpy()))


def loss_chart(history, max_points: int = MAX_POINTS, height: int = 260) -> alt.Chart | None:
    """The training curves: reconstruction (left axis) against KL or the other regulariser (right axis),
    and below them the total loss with β in effect. Vertical rules mark where β (or the learning
    rate) was changed while training. `history` is a Store/Backend metrics dict or a list of step points.
    Returns None when there is nothing to draw yet."""
    steps, epochs, events = _steps_of(history)
    full = pd.DataFrame(steps)
    df = downsample(steps, max_points)
    if df.empty or "progress" not in df:
        return None
    x = alt.X("progress:Q", title="epoch")
    has = {t: t in df and float(df[t].abs().max()) > 0 for t in ("kl", "contractive", "sparsity")}
    right = "kl" if has["kl"] else ("contractive" if has["contractive"] else ("sparsity" if has["sparsity"] else None))

    def line(term: str, orient: str, dash: bool = False) -> alt.Chart:
        name = TERM_NAMES[term]
        d = df[["progress", term]].rename(columns={term: "value"}).assign(series=name)
        return alt.Chart(d).mark_line(strokeDash=[5, 3] if dash else [1, 0], interpolate="step-after"
                                      if term == "beta" else "linear").encode(
            x=x,
            y=alt.Y("value:Q", title=name, axis=alt.Axis(orient=orient, titleColor=COLORS[name]),
                    scale=alt.Scale(zero=False)),
            color=alt.Color("series:N", scale=alt.Scale(domain=list(COLORS), range=list(COLORS.values())),
                            legend=alt.Legend(title=None, orient="top")),
            tooltip=[alt.Tooltip("progress:Q", title="epoch", format=".2f"), alt.Tooltip("value:Q", format=".4g"),
                     "series:N"],
        )

    def heldout(term: str, orient: str) -> alt.Chart | None:
        pts = [{"progress": e["epoch"], "value": (e.get("heldout") or {}).get(term)} for e in epochs]
        pts = [p for p in pts if p["value"] is not None]
        if not pts:
            return None
        name = "held-out reconstruction" if term == "recon" else "held-out KL"
        return alt.Chart(pd.DataFrame(pts).assign(series=name)).mark_point(filled=True, size=50).encode(
            x=x, y=alt.Y("value:Q", axis=alt.Axis(orient=orient, labels=False, title=None, ticks=False,
                                                  domain=False, grid=False)),
            color=alt.Color("series:N"), tooltip=[alt.Tooltip("progress:Q", title="epoch"),
                                                  alt.Tooltip("value:Q", format=".4g"), "series:N"])

    left = line("recon", "left")
    ho = heldout("recon", "left") if epochs else None
    left = alt.layer(left, ho) if ho is not None else left
    if right:
        r = line(right, "right")
        ho_r = heldout("kl", "right") if right == "kl" and epochs else None
        r = alt.layer(r, ho_r) if ho_r is not None else r
        top = alt.layer(left, r).resolve_scale(y="independent")
    else:
        top = left

    bottom = line("loss", "left")
    if "beta" in df and has["kl"]:
        bottom = alt.layer(bottom, line("beta", "right", dash=True)).resolve_scale(y="independent")

    rules = _change_rules(events, full)
    if rules is not None:
        top = alt.layer(top, rules)
        bottom = alt.layer(bottom, rules)
    return alt.vconcat(top.properties(height=height), bottom.properties(height=height // 2)).resolve_scale(
        color="shared", x="shared")


def _change_rules(events: Sequence[dict], steps: pd.DataFrame) -> alt.Chart | None:
    """Vertical rules where β or the learning rate was steered, labelled with the new value."""
    rows = []
    for ev in events or []:
        if ev.get("kind") in ("beta", "lr") and "step" in ev:
            what = "β" if ev["kind"] == "beta" else "lr"
            rows.append({"progress": _progress_at(steps, ev["step"]), "label": f"{what} → {ev['value']:g}"})
    rows = [r for r in rows if np.isfinite(r["progress"])]
    if not rows:
        return None
    d = pd.DataFrame(rows)
    rule = alt.Chart(d).mark_rule(color="#d62728", strokeDash=[2, 2]).encode(
        x="progress:Q", tooltip=[alt.Tooltip("label:N", title="changed"), alt.Tooltip("progress:Q", format=".2f",
                                                                                       title="at epoch")])
    text = alt.Chart(d).mark_text(align="left", dx=3, dy=-4, color="#d62728", fontSize=11).encode(
        x="progress:Q", y=alt.value(8), text="label:N")
    return alt.layer(rule, text)


def epoch_chart(epochs: Sequence[dict], term: str = "recon", height: int = 220) -> alt.Chart | None:
    """Per-epoch train vs held-out value of `term` (a gap = overfitting)."""
    rows = []
    for e in epochs or []:
        for split in ("train", "heldout"):
            v = (e.get(split) or {}).get(term)
            if v is not None:
                rows.append({"epoch": e["epoch"], "value": v, "split": "held-out" if split == "heldout" else "train"})
    if not rows:
        return None
    return alt.Chart(pd.DataFrame(rows)).mark_line(point=True).encode(
        x=alt.X("epoch:Q", title="epoch"),
        y=alt.Y("value:Q", title=TERM_NAMES.get(term, term), scale=alt.Scale(zero=False)),
        color=alt.Color("split:N", legend=alt.Legend(title=None, orient="top")),
        tooltip=["epoch:Q", alt.Tooltip("value:Q", format=".4g"), "split:N"],
    ).properties(height=height)


def latent_scatter(xy, labels, axes: Sequence[str] = ("z₁", "z₂"), classes: Sequence[str] | None = None,
                   domain: tuple[tuple[float, float], tuple[float, float]] | None = None,
                   height: int = 420, max_points: int = 2000) -> alt.Chart:
    """Held-out codes as points coloured by class, with tooltips (class, index, coordinates)."""
    xy = np.asarray(xy, dtype=float)[:max_points]
    labels = np.asarray(labels)[: len(xy)]
    names = [classes[int(i)] if classes is not None and int(i) < len(classes) else str(int(i)) for i in labels]
    df = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "class": names, "index": np.arange(len(xy))})
    order = list(classes) if classes is not None else [str(i) for i in sorted(set(int(v) for v in labels))]
    sx = alt.Scale(domain=list(domain[0]), nice=False) if domain else alt.Scale(zero=False)
    sy = alt.Scale(domain=list(domain[1]), nice=False) if domain else alt.Scale(zero=False)
    sel = alt.selection_point(fields=["class"], bind="legend")
    return alt.Chart(df).mark_circle(size=28).encode(
        x=alt.X("x:Q", title=axes[0], scale=sx),
        y=alt.Y("y:Q", title=axes[1], scale=sy),
        color=alt.Color("class:N", title="digit" if classes is None else "class", sort=order,
                        scale=alt.Scale(scheme="tableau10")),
        opacity=alt.condition(sel, alt.value(0.85), alt.value(0.08)),
        tooltip=[alt.Tooltip("class:N", title="label"), alt.Tooltip("index:Q", title="held-out #"),
                 alt.Tooltip("x:Q", format=".3f", title=axes[0]), alt.Tooltip("y:Q", format=".3f", title=axes[1])],
    ).add_params(sel).properties(height=height)


def bar_chart(values: Sequence[float], title: str, labels: Sequence[str] | None = None, height: int = 180,
              x_title: str = "image") -> alt.Chart:
    """A small bar chart of one value per item (per-image error, KL per latent dimension, ...)."""
    labels = list(labels) if labels is not None else [str(i) for i in range(len(values))]
    df = pd.DataFrame({"item": labels, "value": [float(v) for v in values], "order": range(len(values))})
    return alt.Chart(df).mark_bar().encode(
        x=alt.X("item:N", sort=alt.SortField("order"), title=x_title, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("value:Q", title=title),
        tooltip=[alt.Tooltip("item:N", title=x_title), alt.Tooltip("value:Q", format=".4g", title=title)],
    ).properties(height=height)
