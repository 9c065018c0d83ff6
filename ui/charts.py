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
    "held-out reconstruction": "#0b3d91",
    "held-out KL": "#a04000",
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


def loss_chart(history, max_points: int = MAX_POINTS, height: int = 300) -> alt.LayerChart | alt.Chart | None:
    """The tension chart: reconstruction (left axis) against KL — or, for an AE, its other regulariser —
    (right axis), each on its own scale, with held-out values as dots after each epoch and vertical
    rules where β or the learning rate was steered. `history` is a Store/Backend metrics dict
    ({"steps", "epochs", "events"}) or a list of step points. None when there is nothing to draw yet."""
    steps, epochs, events = _steps_of(history)
    df = downsample(steps, max_points)
    if df.empty or "progress" not in df or "recon" not in df:
        return None
    has = {t: t in df and float(df[t].abs().max()) > 0 for t in ("kl", "contractive", "sparsity")}
    right = next((t for t in ("kl", "contractive", "sparsity") if has[t]), None)
    series = ["reconstruction", *([TERM_NAMES[right]] if right else [])]
    if epochs:
        series.append("held-out reconstruction")
        if right == "kl":
            series.append("held-out KL")
    color = _color(series)

    left = _line(df, "recon", "left", color)
    ho = _heldout(epochs, "recon", "left", color)
    left = alt.layer(left, ho) if ho is not None else left
    if right:
        r = _line(df, right, "right", color)
        ho_r = _heldout(epochs, "kl", "right", color) if right == "kl" else None
        r = alt.layer(r, ho_r) if ho_r is not None else r
        chart = alt.layer(left, r).resolve_scale(y="independent")
    else:
        chart = left
    rules = _change_rules(events, pd.DataFrame(steps))
    if rules is not None:
        chart = alt.layer(chart, rules)
    return chart.properties(height=height)


def total_chart(history, max_points: int = MAX_POINTS, height: int = 170) -> alt.LayerChart | alt.Chart | None:
    """The total loss the optimizer minimises (left axis) and, for a VAE, β in effect (right axis, steps)."""
    steps, _, events = _steps_of(history)
    df = downsample(steps, max_points)
    if df.empty or "progress" not in df or "loss" not in df:
        return None
    with_beta = "beta" in df and "kl" in df and float(df["kl"].abs().max()) > 0
    color = _color([TERM_NAMES["loss"], *([TERM_NAMES["beta"]] if with_beta else [])])
    chart = _line(df, "loss", "left", color)
    if with_beta:
        chart = alt.layer(chart, _line(df, "beta", "right", color, dash=True)).resolve_scale(y="independent")
    rules = _change_rules(events, pd.DataFrame(steps))
    if rules is not None:
        chart = alt.layer(chart, rules)
    return chart.properties(height=height)


def _color(series: list[str]) -> alt.Color:
    wrap = {"columns": 2} if len(series) > 3 else {}  # four names do not fit on one line beside the formulas
    return alt.Color("series:N", scale=alt.Scale(domain=series, range=[COLORS[s] for s in series]),
                     legend=alt.Legend(title=None, orient="top", **wrap))


def _line(df: pd.DataFrame, term: str, orient: str, color: alt.Color, dash: bool = False) -> alt.Chart:
    name = TERM_NAMES[term]
    fmt = {"format": ".3~f"} if term == "beta" else {}
    d = df[["progress", term]].rename(columns={term: "value"}).assign(series=name)
    return alt.Chart(d).mark_line(strokeDash=[5, 3] if dash else [1, 0],
                                  interpolate="step-after" if term == "beta" else "linear").encode(
        x=alt.X("progress:Q", title="epoch"),
        y=alt.Y("value:Q", title=name, scale=alt.Scale(zero=False),
                axis=alt.Axis(orient=orient, titleColor=COLORS[name], **fmt)),
        color=color,
        tooltip=[alt.Tooltip("progress:Q", title="epoch", format=".2f"), alt.Tooltip("value:Q", format=".4g"),
                 alt.Tooltip("series:N", title="curve")],
    )


def _heldout(epochs: Sequence[dict], term: str, orient: str, color: alt.Color) -> alt.Chart | None:
    """Held-out values after each epoch, as dots on the same axis as the training curve."""
    pts = [{"progress": e["epoch"], "value": (e.get("heldout") or {}).get(term)} for e in epochs or []]
    pts = [p for p in pts if p["value"] is not None]
    if not pts:
        return None
    name = "held-out reconstruction" if term == "recon" else "held-out KL"
    return alt.Chart(pd.DataFrame(pts).assign(series=name)).mark_point(filled=True, size=60, shape="diamond").encode(
        x=alt.X("progress:Q"),
        # The same axis as the training curve (an axis=None here would hide the shared axis).
        y=alt.Y("value:Q", title=TERM_NAMES[term], axis=alt.Axis(orient=orient, titleColor=COLORS[TERM_NAMES[term]])),
        color=color,
        tooltip=[alt.Tooltip("progress:Q", title="after epoch"), alt.Tooltip("value:Q", format=".4g"),
                 alt.Tooltip("series:N", title="curve")])


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
                   height: int = 460, max_points: int = 2000, legend: bool = True) -> alt.Chart:
    """Held-out codes as points coloured by class, with tooltips (class, index, coordinates); `legend=False`
    for small maps."""
    xy = np.asarray(xy, dtype=float)[:max_points]
    labels = np.asarray(labels)[: len(xy)]
    names = [classes[int(i)] if classes is not None and int(i) < len(classes) else str(int(i)) for i in labels]
    df = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "class": names, "index": np.arange(len(xy))})
    order = list(classes) if classes is not None else [str(i) for i in sorted(set(int(v) for v in labels))]
    sx = alt.Scale(domain=list(domain[0]), nice=False) if domain else alt.Scale(zero=False)
    sy = alt.Scale(domain=list(domain[1]), nice=False) if domain else alt.Scale(zero=False)
    sel = alt.selection_point(fields=["class"], bind="legend")
    return alt.Chart(df).mark_circle(size=28, clip=True).encode(
        x=alt.X("x:Q", title=axes[0], scale=sx),
        y=alt.Y("y:Q", title=axes[1], scale=sy),
        color=alt.Color("class:N", title="digit" if all(o.isdigit() for o in order) else "class", sort=order,
                        scale=alt.Scale(scheme="tableau10"),
                        legend=alt.Legend(orient="bottom", columns=10) if legend else None),
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


def marked_histogram(values: Sequence[float], marker: float, title: str, marker_label: str = "yours",
                     bins: int = 30, height: int = 160) -> alt.LayerChart:
    """A histogram of `values` (e.g. held-out anomaly scores) with a red rule at `marker` (one new score)."""
    v = np.asarray(values, dtype=float)
    hi = max(float(np.quantile(v, 0.995)) if len(v) else 1.0, marker) * 1.05
    counts, edges = np.histogram(np.clip(v, 0, hi), bins=bins, range=(0, hi))
    df = pd.DataFrame({"lo": edges[:-1], "hi": edges[1:], "count": counts})
    bars = alt.Chart(df).mark_bar(color="#9bb7d4").encode(
        x=alt.X("lo:Q", title=title), x2="hi", y=alt.Y("count:Q", title="held-out digits"), y2=alt.datum(0),
        tooltip=[alt.Tooltip("lo:Q", format=".3g", title="from"), alt.Tooltip("hi:Q", format=".3g", title="to"),
                 "count:Q"])
    mark = pd.DataFrame({"x": [marker], "label": [marker_label]})
    rule = alt.Chart(mark).mark_rule(color="#d62728", strokeWidth=2.5).encode(x="x:Q")
    text = alt.Chart(mark).mark_text(color="#d62728", align="left", dx=4, dy=-4, fontWeight="bold").encode(
        x="x:Q", y=alt.value(10), text="label:N")
    return alt.layer(bars, rule, text).properties(height=height)
