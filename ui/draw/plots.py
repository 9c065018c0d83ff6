"""Small Altair charts for the Lessons, Applications and Compare pages: rows of dicts in, `alt.Chart` out
(draw with `st.altair_chart(chart, width="stretch")`). Pure functions, no Streamlit."""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd

from .charts import EPOCH_AXIS


def lines(rows: Sequence[dict], x: str, y: str, color: str, title: str = "", log_y: bool = False,
          height: int = 240, x_title: str | None = None, y_title: str | None = None,
          log_x: bool = False, sort: Sequence[str] | None = None) -> alt.Chart:
    df = pd.DataFrame(list(rows))
    scale = alt.Scale(type="log") if log_y else alt.Scale(zero=False)
    xscale = alt.Scale(type="log") if log_x else alt.Scale(zero=False)
    return (alt.Chart(df, title=title).mark_line(point=True)
            .encode(x=alt.X(f"{x}:Q", title=x_title or x, scale=xscale,
                            axis=EPOCH_AXIS if x == "epoch" else alt.Axis()),
                    y=alt.Y(f"{y}:Q", scale=scale, title=y_title or y),
                    color=_color(color, sort), tooltip=list(df.columns))
            .properties(height=height))


def _color(field: str, sort: Sequence[str] | None = None, scheme: str | None = None) -> alt.Color:
    """A nominal colour whose legend follows `sort` (e.g. β = 0, 0.5, 1, 4, 16 in numeric order), else Altair's;
    `scheme`: a Vega colour scheme instead of the Streamlit theme's colours."""
    return alt.Color(f"{field}:N", title=field, sort=list(sort) if sort else "ascending",
                     scale=alt.Scale(scheme=scheme) if scheme else alt.Undefined,
                     legend=alt.Legend(labelLimit=320))  # Compare's run names are long: cut at 160 px they clash


def numeric_order(labels: Sequence[str]) -> list[str]:
    """Distinct labels sorted by their numeric value ("16" after "4"); labels that are not numbers go last."""
    def key(s: str) -> tuple[int, float, str]:
        try:
            return 0, float(s), s
        except ValueError:
            return 1, 0.0, s
    return sorted(dict.fromkeys(labels), key=key)


def scatter(rows: Sequence[dict], x: str, y: str, color: str | None = None, title: str = "", height: int = 300,
            x_title: str | None = None, y_title: str | None = None, label: str | None = None,
            sort: Sequence[str] | None = None, scheme: str | None = None) -> alt.Chart:
    df = pd.DataFrame(list(rows))
    enc = dict(x=alt.X(f"{x}:Q", title=x_title or x, scale=alt.Scale(zero=False)),
               y=alt.Y(f"{y}:Q", title=y_title or y, scale=alt.Scale(zero=False)),
               tooltip=[c for c in df.columns if df[c].dtype != object or c in (color, label)])
    if color:
        enc["color"] = _color(color, sort, scheme)
    pts = alt.Chart(df, title=title).mark_circle(size=60, opacity=0.8).encode(**enc).properties(height=height)
    if label:
        pts = pts + alt.Chart(df).mark_text(align="left", dx=7, dy=-7).encode(
            x=f"{x}:Q", y=f"{y}:Q", text=f"{label}:N")
    return pts


def histogram(rows: Sequence[dict], value: str, color: str, title: str = "", bins: int = 40,
              height: int = 220, x_title: str | None = None, y_title: str = "images") -> alt.Chart:
    df = pd.DataFrame(list(rows))
    return (alt.Chart(df, title=title).mark_bar(opacity=0.55)
            .encode(x=alt.X(f"{value}:Q", bin=alt.Bin(maxbins=bins), title=x_title or value),
                    y=alt.Y("count():Q", stack=None, title=y_title), color=alt.Color(f"{color}:N", title=color))
            .properties(height=height))


def anomaly_histogram(report: dict, score: str, anomaly: str, normal: str, title: str) -> alt.Chart:
    """The scores of an `anomaly_report` (engine.teaching.applications) as two histograms: anomalies vs normal."""
    rows = [{score: s, "digit": anomaly if an else normal}
            for s, an in zip(report["scores"], report["is_anomaly"], strict=False)]
    return histogram(rows, score, "digit", title)


def roc_chart(curves: dict[str, dict], height: int = 380) -> alt.Chart:
    """ROC curves {name: {"fpr", "tpr", "auc"}} with the chance diagonal."""
    rows = [{"score": f"{name} (AUC {c['auc']:.3f})", "false positive rate": f, "true positive rate": t}
            for name, c in curves.items() for f, t in zip(c["fpr"], c["tpr"], strict=False)]
    df = pd.DataFrame(rows)
    line = (alt.Chart(df, title="ROC: anomalies caught vs normal digits flagged").mark_line()
            .encode(x="false positive rate:Q", y="true positive rate:Q",
                    color=alt.Color("score:N", title=None, legend=alt.Legend(orient="bottom", direction="vertical",
                                                                            labelLimit=400)),
                    order="false positive rate:Q"))
    diag = alt.Chart(pd.DataFrame({"a": [0, 1], "b": [0, 1]})).mark_line(strokeDash=[4, 4], color="gray").encode(
        x="a:Q", y="b:Q")
    return (line + diag).properties(height=height)


def bars(rows: Sequence[dict], x: str, y: str, color: str | None = None, title: str = "", height: int = 220,
         x_title: str | None = None, y_title: str | None = None, sort: Sequence[str] | None = None) -> alt.Chart:
    df = pd.DataFrame(list(rows))
    enc = dict(x=alt.X(f"{x}:O", title=x_title or x, axis=alt.Axis(labelAngle=0)),
               y=alt.Y(f"{y}:Q", title=y_title or y), tooltip=list(df.columns))
    if color:
        enc["color"] = _color(color, sort)
        enc["xOffset"] = alt.XOffset(f"{color}:N", sort=list(sort) if sort else "ascending")
    return alt.Chart(df, title=title).mark_bar().encode(**enc).properties(height=height)


def error_bars(rows: Sequence[dict], y: str, title: str = "", x_title: str = "mean") -> alt.Chart:
    """Means with their seed-to-seed spread, one horizontal bar per row: rows {y, "mean", "lo", "hi", "n"}, an error
    bar from lo to hi (mean ± one standard deviation over seeds; none for a single seed)."""
    df = pd.DataFrame(list(rows))
    yenc = alt.Y(f"{y}:N", title=None, sort=None, axis=alt.Axis(labelLimit=260))
    base = alt.Chart(df, title=title)
    bar = base.mark_bar(opacity=0.75).encode(
        y=yenc, x=alt.X("mean:Q", title=x_title), color=alt.Color(f"{y}:N", legend=None, sort=None),
        tooltip=[y, "mean", "lo", "hi", "n"])
    err = base.mark_errorbar(ticks=alt.MarkConfig(size=14), color="black", thickness=2).encode(
        y=yenc, x=alt.X("lo:Q", title=x_title), x2="hi:Q")
    return (bar + err).properties(height=alt.Step(42))


def error_lines(rows: Sequence[dict], x: str, color: str, title: str = "", height: int = 300,
                x_title: str | None = None, y_title: str = "mean") -> alt.Chart:
    """Curves of means with a vertical error bar (lo…hi) at every point: rows {x, color, "mean", "lo", "hi"}."""
    df = pd.DataFrame(list(rows))
    base = alt.Chart(df, title=title)
    enc = dict(x=alt.X(f"{x}:Q", title=x_title or x),
               color=alt.Color(f"{color}:N", title=None, sort=None,
                               legend=alt.Legend(orient="top", direction="horizontal")))
    line = base.mark_line(point=True).encode(y=alt.Y("mean:Q", title=y_title), tooltip=list(df.columns), **enc)
    err = base.mark_errorbar(ticks=True).encode(y=alt.Y("lo:Q", title=y_title), y2="hi:Q", **enc)
    return (line + err).properties(height=height)
