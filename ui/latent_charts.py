"""The latent map as layers (pure Altair, no Streamlit): the held-out codes, an invisible grid that makes every
location clickable, the prior's N(0, I) contours, posterior σ-ellipses, a marker where the decoder is being
asked, a drawn digit's code and an interpolation path. `latent_map_chart` stacks the ones given."""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import numpy as np
import pandas as pd

from .charts import latent_scatter

PICK = "pick"  # selection parameter of the grid: a click anywhere on the map
PICK_POINT = "pick_point"  # selection parameter of the codes: a click on a digit's point
Domain = tuple[tuple[float, float], tuple[float, float]]


def _scales(domain: Domain) -> tuple[alt.Scale, alt.Scale]:
    return alt.Scale(domain=list(domain[0]), nice=False), alt.Scale(domain=list(domain[1]), nice=False)


def grid_layer(domain: Domain, n: int = 40) -> alt.Chart:
    """n×n invisible cells covering the map; a click selects the cell (its centre: gx, gy)."""
    (x0, x1), (y0, y1) = domain
    xs, ys = np.linspace(x0, x1, n + 1), np.linspace(y0, y1, n + 1)
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    df = pd.DataFrame({"x": xs[i.ravel()], "x2": xs[i.ravel() + 1], "y": ys[j.ravel()], "y2": ys[j.ravel() + 1]})
    df["gx"], df["gy"] = (df.x + df.x2) / 2, (df.y + df.y2) / 2
    sx, sy = _scales(domain)
    pick = alt.selection_point(name=PICK, fields=["gx", "gy"], on="click", clear=False, empty=False)
    return alt.Chart(df).mark_rect(opacity=0.002, color="#888", cursor="crosshair").encode(
        x=alt.X("x:Q", scale=sx), x2="x2", y=alt.Y("y:Q", scale=sy), y2="y2",
    ).add_params(pick)


def _lines(curves: Sequence[np.ndarray], names: Sequence[str] | None = None) -> pd.DataFrame:
    rows = []
    for k, c in enumerate(curves):
        c = np.asarray(c, dtype=float)
        name = names[k] if names is not None else str(k)
        rows += [{"x": float(x), "y": float(y), "curve": k, "order": t, "class": name} for t, (x, y) in enumerate(c)]
    return pd.DataFrame(rows, columns=["x", "y", "curve", "order", "class"])


def prior_layer(rings: Sequence[np.ndarray], domain: Domain) -> alt.LayerChart:
    """The 1σ, 2σ, 3σ circles of N(0, I), dashed, labelled."""
    df = _lines(rings, [f"{k + 1}σ of N(0, I)" for k in range(len(rings))])
    sx, sy = _scales(domain)
    line = alt.Chart(df).mark_line(color="#222", strokeDash=[5, 4], strokeWidth=1.2, clip=True).encode(
        x=alt.X("x:Q", scale=sx), y=alt.Y("y:Q", scale=sy), detail="curve:N", order="order:Q",
        tooltip=[alt.Tooltip("class:N", title="contour")])
    tops = pd.DataFrame([{"x": float(np.asarray(r)[:, 0].mean()), "y": float(np.asarray(r)[:, 1].max()),
                          "label": f"{k + 1}σ"} for k, r in enumerate(rings)])
    text = alt.Chart(tops).mark_text(dy=-6, color="#222", fontSize=11, clip=True).encode(
        x=alt.X("x:Q", scale=sx), y=alt.Y("y:Q", scale=sy), text="label:N")
    return alt.layer(line, text)


def ellipse_layer(curves: Sequence[np.ndarray], names: Sequence[str], domain: Domain,
                  order: Sequence[str] | None = None) -> alt.Chart:
    """σ-ellipses of some codes' posteriors, coloured like their digits."""
    sx, sy = _scales(domain)
    color = alt.Color("class:N", sort=list(order) if order else None, scale=alt.Scale(scheme="tableau10"),
                      legend=None)
    return alt.Chart(_lines(curves, names)).mark_line(strokeWidth=1.5, opacity=0.9, clip=True).encode(
        x=alt.X("x:Q", scale=sx), y=alt.Y("y:Q", scale=sy), detail="curve:N", order="order:Q", color=color,
        tooltip=[alt.Tooltip("class:N", title="posterior of a")])


def marker_layer(x: float, y: float, label: str, domain: Domain, color: str = "#000",
                 shape: str = "cross") -> alt.LayerChart:
    """A big marker with a label at one location of the map."""
    sx, sy = _scales(domain)
    df = pd.DataFrame({"x": [x], "y": [y], "label": [label]})
    base = alt.Chart(df).encode(x=alt.X("x:Q", scale=sx), y=alt.Y("y:Q", scale=sy))
    dot = base.mark_point(shape=shape, size=320, filled=True, color=color, stroke="white", strokeWidth=1.5,
                          clip=True).encode(tooltip=[alt.Tooltip("label:N", title="")])
    text = base.mark_text(align="left", dx=12, dy=-10, fontSize=12, fontWeight="bold", color=color,
                          clip=True).encode(text="label:N")
    return alt.layer(dot, text)


def curve_layer(points: np.ndarray, domain: Domain, color: str = "#000", dash: bool = False,
                dots: bool = False) -> alt.Chart:
    """A polyline through `points` (n, 2) in order: an interpolation path (dots at its decoded steps) or one
    ellipse."""
    sx, sy = _scales(domain)
    df = pd.DataFrame({"x": points[:, 0], "y": points[:, 1], "step": np.arange(len(points))})
    return alt.Chart(df).mark_line(point=dots, color=color, strokeWidth=2, strokeDash=[4, 3] if dash else [1, 0],
                                   clip=True).encode(x=alt.X("x:Q", scale=sx), y=alt.Y("y:Q", scale=sy),
                                                     order="step:Q")


def latent_map_chart(xy, labels, axes: Sequence[str], classes: Sequence[str] | None, domain: Domain, *,
                     clickable: bool = True, below: Sequence = (), above: Sequence = (), height: int = 460,
                     max_points: int = 2000, legend: bool = True) -> alt.LayerChart:
    """The held-out codes (latent_scatter) on one fixed domain, with the invisible grid under everything when
    `clickable` (then a click on a cell or on a point selects it), `below` the points (prior contours,
    ellipses) and `above` them (markers, paths). Square (width = height): give it a square domain
    (engine.teaching.latent.square) and draw it with width="content" so circles stay round."""
    scatter = latent_scatter(xy, labels, axes, classes, domain=domain, height=height, max_points=max_points,
                             legend=legend)
    layers: list = []
    if clickable:
        layers.append(grid_layer(domain))
        scatter = scatter.add_params(alt.selection_point(name=PICK_POINT, fields=["x", "y"], on="click",
                                                         clear=False, empty=False))
    layers += [*below, scatter, *above]
    return alt.layer(*layers).properties(width=height, height=height)
