"""Charts shared by the pages. Pure functions: data in, a chart out — an `alt.Chart` (draw with
`st.altair_chart(chart, width="stretch")`), or for the charts redrawn every second (Live run) a plain Vega-Lite
spec (`st.vega_lite_chart(spec, width="stretch")`). No Streamlit here, so they are easy to test.
"""

from __future__ import annotations

import json
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
    "β in effect": "#e377c2",  # not red: red dashed rules mark where β or the learning rate was changed
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


# ---- the Live run charts: plain Vega-Lite specs -------------------------------------------------------------
# Live run redraws them every second for every student watching: built as dicts they cost well under a
# millisecond, where the same charts in Altair took ~0.25 s of the server's one Python thread to build and
# convert. Draw them with `st.vega_lite_chart(spec, width="stretch")`; each spec carries its data as named
# datasets (lists of records) that Streamlit sends as Arrow.
X_EPOCH = {"field": "progress", "type": "quantitative", "title": "epoch"}
# Vega's canvas renderer instead of Streamlit's SVG: a Live run page watching a job cost its browser ~10 % less
# (renderer process 0.37 → 0.33 CPU-s per second, two runs each way); the latent maps use it too.
CANVAS = {"embedOptions": {"renderer": "canvas"}}


# Heights hold the legend and the axes too (Streamlit fits the whole chart in them): at 170 the total loss's plot
# was ~20 px tall with one y tick.
def loss_chart(history, max_points: int = MAX_POINTS, height: int = 340) -> dict | None:
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
    held = {t: _heldout_rows(epochs, t) for t in ("recon", *(["kl"] if right == "kl" else []))}
    series = ["reconstruction", *([TERM_NAMES[right]] if right else []),
              *(["held-out reconstruction"] if held["recon"] else []), *(["held-out KL"] if held.get("kl") else [])]
    color = _color(series)
    datasets = {"steps": _records(df, ["recon", *([right] if right else [])]),
                **{f"heldout_{t}": rows for t, rows in held.items() if rows}}
    axes = [_axis_group("recon", "left", color, bool(held["recon"]))]
    if right:
        axes.append(_axis_group(right, "right", color, bool(held.get("kl"))))
    chart = {"layer": axes, "resolve": {"scale": {"y": "independent"}}} if right else axes[0]
    return _with_rules(chart, events, steps, datasets, height)


def total_chart(history, max_points: int = MAX_POINTS, height: int = 250) -> dict | None:
    """The total loss the optimizer minimises (left axis) and, for a VAE, β in effect (right axis, steps)."""
    steps, _, events = _steps_of(history)
    df = downsample(steps, max_points)
    if df.empty or "progress" not in df or "loss" not in df:
        return None
    with_beta = "beta" in df and "kl" in df and float(df["kl"].abs().max()) > 0
    color = _color([TERM_NAMES["loss"], *([TERM_NAMES["beta"]] if with_beta else [])])
    chart = _line("loss", "left", color)
    if with_beta:
        chart = {"layer": [chart, _line("beta", "right", color)], "resolve": {"scale": {"y": "independent"}}}
    return _with_rules(chart, events, steps, {"steps": _records(df, ["loss", *(["beta"] if with_beta else [])])},
                       height)


def _records(df: pd.DataFrame, terms: list[str]) -> list[dict]:
    """The columns a chart draws (epoch progress and its terms), as records."""
    return df[["progress", *terms]].to_dict("records")


def _heldout_rows(epochs: Sequence[dict], term: str) -> list[dict]:
    series = "held-out reconstruction" if term == "recon" else "held-out KL"
    pts = [{"progress": e["epoch"], "value": (e.get("heldout") or {}).get(term), "series": series}
           for e in epochs or []]
    return [p for p in pts if p["value"] is not None]


def _color(series: list[str]) -> dict:
    """One legend for every layer: the field `series` (each layer's curve name) on this shared colour scale."""
    wrap = {"columns": 2} if len(series) > 3 else {}  # four names do not fit on one line beside the formulas
    return {"field": "series", "type": "nominal", "scale": {"domain": series, "range": [COLORS[s] for s in series]},
            "legend": {"title": None, "orient": "top", **wrap}}


TOOLTIP = [{**X_EPOCH, "format": ".2f"}, {"field": "value", "type": "quantitative", "format": ".4g"},
           {"field": "series", "type": "nominal", "title": "curve"}]


def _y(field: str, name: str, orient: str, **axis) -> dict:
    return {"field": field, "type": "quantitative", "title": name,
            "axis": {"orient": orient, "titleColor": COLORS[name], **axis}}


def _line(term: str, orient: str, color: dict) -> dict:
    """One training curve of the step points (dataset "steps"), on its own y axis."""
    name = TERM_NAMES[term]
    fmt = {"format": ".3~f"} if term == "beta" else {}
    mark = {"type": "line", "interpolate": "step-after" if term == "beta" else "linear"}
    return {"data": {"name": "steps"}, "mark": mark,
            "transform": [{"calculate": f"datum[{json.dumps(term)}]", "as": "value"},
                          {"calculate": json.dumps(name), "as": "series"}],
            "encoding": {"x": X_EPOCH, "y": {**_y("value", name, orient, **fmt), "scale": {"zero": False}},
                         "color": color, "tooltip": TOOLTIP}}


def _axis_group(term: str, orient: str, color: dict, heldout: bool) -> dict:
    """A training curve and, when there are any, the held-out values after each epoch as dots on its axis."""
    line = _line(term, orient, color)
    if not heldout:
        return line
    dots = {"data": {"name": f"heldout_{term}"},
            "mark": {"type": "point", "filled": True, "size": 60, "shape": "diamond"},
            "encoding": {"x": {"field": "progress", "type": "quantitative"},
                         "y": _y("value", TERM_NAMES[term], orient), "color": color,
                         "tooltip": [{"field": "progress", "type": "quantitative", "title": "after epoch"},
                                     *TOOLTIP[1:]]}}
    return {"layer": [line, dots]}


def _with_rules(chart: dict, events: Sequence[dict], steps: list, datasets: dict, height: int) -> dict:
    """The chart with vertical rules where β or the learning rate was steered (labelled with the new value)."""
    changes = [ev for ev in events or [] if ev.get("kind") in ("beta", "lr") and "step" in ev]
    frame = pd.DataFrame(steps) if changes else None
    rows = [{"progress": _progress_at(frame, ev["step"]), "label": f"{'β' if ev['kind'] == 'beta' else 'lr'} → "
             f"{ev['value']:g}"} for ev in changes]
    rows = [r for r in rows if np.isfinite(r["progress"])]
    if rows:
        x = {"field": "progress", "type": "quantitative"}
        rule = {"mark": {"type": "rule", "color": "#d62728", "strokeDash": [2, 2]},
                "encoding": {"x": x, "tooltip": [{"field": "label", "type": "nominal", "title": "changed"},
                                                 {**x, "format": ".2f", "title": "at epoch"}]}}
        text = {"mark": {"type": "text", "align": "left", "dx": 3, "dy": -4, "color": "#d62728", "fontSize": 11},
                "encoding": {"x": x, "y": {"value": 8}, "text": {"field": "label", "type": "nominal"}}}
        chart = {"layer": [chart, {"data": {"name": "changes"}, "layer": [rule, text]}]}
        datasets = {**datasets, "changes": rows}
    return {**chart, "height": height, "datasets": datasets, "usermeta": CANVAS}


EPOCH_AXIS = alt.Axis(format="d", tickMinStep=1)  # whole epochs: one epoch reads "1", not "1.000000"


def epoch_x(title: str | None = "epoch") -> alt.X:
    """An x axis of whole epochs (EPOCH_AXIS)."""
    return alt.X("epoch:Q", title=title, axis=EPOCH_AXIS)


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
        x=epoch_x(),
        y=alt.Y("value:Q", title=TERM_NAMES.get(term, term), scale=alt.Scale(zero=False)),
        color=alt.Color("split:N", legend=alt.Legend(title=None, orient="top")),
        tooltip=["epoch:Q", alt.Tooltip("value:Q", format=".4g"), "split:N"],
    ).properties(height=height)


def bar_chart(values: Sequence[float], title: str, labels: Sequence[str] | None = None, height: int = 240,
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


SHAPE_COLORS = {"input": "#7f7f7f", "encoder": "#1f77b4", "code": "#d62728", "decoder": "#ff7f0e", "output": "#7f7f7f"}


def shape_chart(rows: Sequence[dict], height: int = 280) -> dict:
    """The network's hourglass: numbers per image after each layer (`engine.teaching.shapes.layer_widths`), on a
    log scale so a 3-number code and 784 pixels fit one chart; the code in red. A plain Vega-Lite spec. Bars are
    numbered (an encoder and a decoder layer often have the same name) and start at 1 (a log scale has no 0)."""
    data = [{**r, "step": f"{i}. {r['layer']}"} for i, r in enumerate(rows)]
    return {
        "data": {"values": data}, "height": height, "mark": {"type": "bar"},
        "encoding": {
            "x": {"field": "step", "type": "nominal", "sort": None, "title": None,
                  "axis": {"labelAngle": -35, "labelLimit": 160, "labelOverlap": False}},  # every bar named
            "y": {"field": "numbers", "type": "quantitative", "scale": {"type": "log"},
                  "title": "numbers per image"},
            "y2": {"datum": 1},
            "color": {"field": "part", "type": "nominal", "title": None,
                      "scale": {"domain": list(SHAPE_COLORS), "range": list(SHAPE_COLORS.values())}},
            "tooltip": [{"field": "layer", "type": "nominal"}, {"field": "numbers", "type": "quantitative",
                                                                   "format": ","}]},
    }
