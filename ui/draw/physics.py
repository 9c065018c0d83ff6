"""Altair charts for the Ising and Graph AE pages: data in, `alt.Chart` out. Pure functions, no Streamlit;
the critical temperature comes in as an argument (the page has it from engine.data.ising)."""

from __future__ import annotations

import altair as alt
import pandas as pd

from .charts import epoch_x


def tc_rule(tc: float) -> alt.Chart:
    """A dashed vertical line at the critical temperature `tc`."""
    df = pd.DataFrame({"T": [tc], "label": [f"T_c ≈ {tc:.3f}"]})
    rule = alt.Chart(df).mark_rule(color="#d62728", strokeDash=[6, 4]).encode(x="T:Q")
    text = alt.Chart(df).mark_text(align="left", dx=4, dy=-6, color="#d62728").encode(
        x="T:Q", y=alt.value(8), text="label:N")
    return rule + text


def observables_chart(rows: list[dict], tc: float) -> alt.Chart:
    """<|m|> and energy per spin vs T, with T_c."""
    df = pd.DataFrame(rows).melt(id_vars=["T"], value_vars=["abs_m", "energy"], var_name="what", value_name="value")
    df["what"] = df["what"].map({"abs_m": "⟨|m|⟩ magnetization", "energy": "⟨E⟩/N energy per spin"})
    line = alt.Chart(df).mark_line(point=True).encode(
        x=alt.X("T:Q", title="temperature T"), y=alt.Y("value:Q", title=None),
        color=alt.Color("what:N", title=None, legend=alt.Legend(orient="bottom")),
        tooltip=["T:Q", "what:N", alt.Tooltip("value:Q", format=".3f")])
    return (line + tc_rule(tc)).properties(height=260)


def latent_vs(df: pd.DataFrame, x: str, x_title: str, z: str, color: str, color_title: str,
              tc: float | None = None, z_title: str | None = None) -> alt.Chart:
    """Scatter of one latent coordinate against a physical quantity (Wetzel 2017, Fig. 3 style); with a
    line at the critical temperature `tc` if given."""
    pts = alt.Chart(df).mark_circle(size=14, opacity=0.5).encode(
        x=alt.X(f"{x}:Q", title=x_title, scale=alt.Scale(zero=False)),  # T starts at 1, not 0
        y=alt.Y(f"{z}:Q", title=z_title or f"latent {z}"),
        color=alt.Color(f"{color}:Q", title=color_title, scale=alt.Scale(scheme="turbo")),
        tooltip=[alt.Tooltip("T:Q", format=".3f"), alt.Tooltip("abs_m:Q", title="|m|", format=".3f"),
                 alt.Tooltip(f"{z}:Q", format=".3f")])
    chart = pts + tc_rule(tc) if tc is not None else pts
    return chart.properties(height=300)


def recon_vs_t(df: pd.DataFrame, tc: float) -> alt.Chart:
    """Mean reconstruction error per temperature (with a band of ± one standard deviation) and T_c."""
    g = df.groupby("T")["recon_err"].agg(["mean", "std"]).reset_index()
    g["lo"], g["hi"] = g["mean"] - g["std"], g["mean"] + g["std"]
    base = alt.Chart(g).encode(x=alt.X("T:Q", title="temperature T"))
    band = base.mark_area(opacity=0.2).encode(y="lo:Q", y2="hi:Q")
    line = base.mark_line(point=True).encode(
        y=alt.Y("mean:Q", title="reconstruction error (MSE per spin)"),
        tooltip=[alt.Tooltip("T:Q", format=".3f"), alt.Tooltip("mean:Q", format=".4f")])
    return (band + line + tc_rule(tc)).properties(height=280)


def graph_chart(xy, labels, classes: list[str], edges, names: list[str] | None = None) -> alt.Chart:
    """Node embedding scatter (coloured by class) with the graph's edges drawn faintly underneath."""
    nodes = pd.DataFrame({"x": xy[:, 0].tolist(), "y": xy[:, 1].tolist(),
                          "class": [classes[i] for i in labels.tolist()],
                          "node": names or [str(i) for i in range(len(xy))]})
    seg = []
    for k, (i, j) in enumerate(edges.tolist()):
        seg += [{"edge": k, "x": float(xy[i, 0]), "y": float(xy[i, 1]), "o": 0},
                {"edge": k, "x": float(xy[j, 0]), "y": float(xy[j, 1]), "o": 1}]
    lines = alt.Chart(pd.DataFrame(seg)).mark_line(color="#bbbbbb", opacity=0.5, strokeWidth=1).encode(
        x="x:Q", y="y:Q", detail="edge:N", order="o:Q")
    pts = alt.Chart(nodes).mark_circle(size=90, opacity=0.9, stroke="white", strokeWidth=0.5).encode(
        x=alt.X("x:Q", title="embedding 1"), y=alt.Y("y:Q", title="embedding 2"),
        color=alt.Color("class:N", title=None, legend=alt.Legend(orient="bottom")),
        tooltip=["node:N", "class:N"])
    return (lines + pts).properties(height=420)


def history_chart(history: list[dict]) -> alt.Chart:
    """A graph autoencoder's training loss and validation AUC per epoch."""
    df = pd.DataFrame(history)
    keep = [c for c in ("loss", "val_auc") if c in df and df[c].notna().any()]
    df = df.melt(id_vars=["epoch"], value_vars=keep, var_name="what", value_name="value").dropna()
    df["what"] = df["what"].map({"loss": "training loss", "val_auc": "validation AUC"})
    return alt.Chart(df).mark_line(point=True).encode(
        x=epoch_x(), y=alt.Y("value:Q", title=None), color=alt.Color("what:N", title=None),
        tooltip=["epoch:Q", "what:N", alt.Tooltip("value:Q", format=".3f")]).properties(height=220)
