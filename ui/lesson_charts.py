"""Small Altair charts for the Lessons, Applications and Compare pages: rows of dicts in, `alt.Chart` out
(draw with `st.altair_chart(chart, width="stretch")`). Pure functions, no Streamlit."""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd


def lines(rows: Sequence[dict], x: str, y: str, color: str, title: str = "", log_y: bool = False,
          height: int = 240, x_title: str | None = None, y_title: str | None = None,
          log_x: bool = False) -> alt.Chart:
    df = pd.DataFrame(list(rows))
    scale = alt.Scale(type="log") if log_y else alt.Scale(zero=False)
    xscale = alt.Scale(type="log") if log_x else alt.Scale(zero=False)
    return (alt.Chart(df, title=title).mark_line(point=True)
            .encode(x=alt.X(f"{x}:Q", title=x_title or x, scale=xscale),
                    y=alt.Y(f"{y}:Q", scale=scale, title=y_title or y),
                    color=alt.Color(f"{color}:N", title=color), tooltip=list(df.columns))
            .properties(height=height))


def scatter(rows: Sequence[dict], x: str, y: str, color: str | None = None, title: str = "", height: int = 300,
            x_title: str | None = None, y_title: str | None = None, label: str | None = None) -> alt.Chart:
    df = pd.DataFrame(list(rows))
    enc = dict(x=alt.X(f"{x}:Q", title=x_title or x, scale=alt.Scale(zero=False)),
               y=alt.Y(f"{y}:Q", title=y_title or y, scale=alt.Scale(zero=False)),
               tooltip=[c for c in df.columns if df[c].dtype != object or c in (color, label)])
    if color:
        enc["color"] = alt.Color(f"{color}:N", title=color)
    pts = alt.Chart(df, title=title).mark_circle(size=60, opacity=0.8).encode(**enc).properties(height=height)
    if label:
        pts = pts + alt.Chart(df).mark_text(align="left", dx=7, dy=-7).encode(
            x=f"{x}:Q", y=f"{y}:Q", text=f"{label}:N")
    return pts


def histogram(rows: Sequence[dict], value: str, color: str, title: str = "", bins: int = 40,
              height: int = 220, x_title: str | None = None) -> alt.Chart:
    df = pd.DataFrame(list(rows))
    return (alt.Chart(df, title=title).mark_bar(opacity=0.55)
            .encode(x=alt.X(f"{value}:Q", bin=alt.Bin(maxbins=bins), title=x_title or value),
                    y=alt.Y("count():Q", stack=None, title="images"), color=alt.Color(f"{color}:N", title=color))
            .properties(height=height))


def roc_chart(curves: dict[str, dict], height: int = 300) -> alt.Chart:
    """ROC curves {name: {"fpr", "tpr", "auc"}} with the chance diagonal."""
    rows = [{"score": f"{name} (AUC {c['auc']:.3f})", "false positive rate": f, "true positive rate": t}
            for name, c in curves.items() for f, t in zip(c["fpr"], c["tpr"], strict=False)]
    df = pd.DataFrame(rows)
    line = (alt.Chart(df, title="ROC: anomalies caught vs normal digits flagged").mark_line()
            .encode(x="false positive rate:Q", y="true positive rate:Q", color=alt.Color("score:N", title=None),
                    order="false positive rate:Q"))
    diag = alt.Chart(pd.DataFrame({"a": [0, 1], "b": [0, 1]})).mark_line(strokeDash=[4, 4], color="gray").encode(
        x="a:Q", y="b:Q")
    return (line + diag).properties(height=height)


def bars(rows: Sequence[dict], x: str, y: str, color: str | None = None, title: str = "", height: int = 220,
         x_title: str | None = None, y_title: str | None = None) -> alt.Chart:
    df = pd.DataFrame(list(rows))
    enc = dict(x=alt.X(f"{x}:O", title=x_title or x), y=alt.Y(f"{y}:Q", title=y_title or y), tooltip=list(df.columns))
    if color:
        enc["color"] = alt.Color(f"{color}:N", title=color)
        enc["xOffset"] = f"{color}:N"
    return alt.Chart(df, title=title).mark_bar().encode(**enc).properties(height=height)
