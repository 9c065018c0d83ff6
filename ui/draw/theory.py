"""Charts and tables of the VAE theory page (pure Altair/pandas, no Streamlit): the aggregate posterior against
N(0, 1), the spread of μ and z per dimension, the training dynamics of a run, the reparameterization
gradients and the peaking phenomenon."""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd

from .charts import COLORS, epoch_x


def aggregate_chart(hist_z: dict, hist_mu: dict, height: int = 260) -> alt.Chart:
    """Density histograms (as steps) of z = μ + σ·ε and of μ alone, and the N(0, 1) density."""
    names = ("z = μ + σ·ε", "μ alone", "N(0, 1)")
    rows = [{"z": c, "density": d, "what": what}
            for what, xs, ys in ((names[0], hist_z["centre"], hist_z["density"]),
                                 (names[1], hist_mu["centre"], hist_mu["density"]),
                                 (names[2], hist_z["centre"], hist_z["normal"]))
            for c, d in zip(xs, ys, strict=True)]
    return alt.Chart(pd.DataFrame(rows)).mark_line(interpolate="step", strokeWidth=2.5).encode(
        x=alt.X("z:Q", title="value of a latent coordinate"), y=alt.Y("density:Q", title="density"),
        color=alt.Color("what:N", title=None, sort=list(names), legend=alt.Legend(orient="top"),
                        scale=alt.Scale(domain=list(names), range=["#1f77b4", "#ff7f0e", "#000"])),
        strokeDash=alt.StrokeDash("what:N", sort=list(names), legend=None,
                                  scale=alt.Scale(domain=list(names), range=[[1, 0], [1, 0], [5, 3]])),
        tooltip=[alt.Tooltip("z:Q", format=".2f"), alt.Tooltip("density:Q", format=".3f"), "what:N"],
    ).properties(height=height)


def spread_chart(std_mu: Sequence[float], std_z: Sequence[float], sigma: Sequence[float],
                 height: int = 220) -> alt.LayerChart:
    """Per latent dimension: std of μ, the typical σ (√E[σ²]) and std of z, against the prior's 1."""
    rows = []
    for j, (a, s, b) in enumerate(zip(std_mu, sigma, std_z, strict=True)):
        rows += [{"dim": f"z{j + 1}", "order": j, "value": float(v), "what": w}
                 for v, w in ((a, "std of μ"), (s, "√E[σ²]"), (b, "std of z"))]
    bars = alt.Chart(pd.DataFrame(rows)).mark_bar().encode(
        x=alt.X("dim:N", sort=alt.SortField("order"), title="latent dimension", axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("what:N", sort=["std of μ", "√E[σ²]", "std of z"]),
        y=alt.Y("value:Q", title="standard deviation"),
        color=alt.Color("what:N", title=None, sort=["std of μ", "√E[σ²]", "std of z"],
                        legend=alt.Legend(orient="top")),
        tooltip=["dim:N", "what:N", alt.Tooltip("value:Q", format=".3f")])
    one = alt.Chart(pd.DataFrame({"y": [1.0]})).mark_rule(color="#000", strokeDash=[4, 3]).encode(y="y:Q")
    return alt.layer(bars, one).properties(height=height)


def dynamics_charts(epochs: Sequence[dict], height: int = 200) -> list[alt.Chart]:
    """Held-out reconstruction, KL and mean posterior σ per epoch (three small charts, drawn side by side):
    the tug of war in numbers. Empty when the run has no held-out history."""
    rows = [{"epoch": e["epoch"], **{k: (e.get("heldout") or {}).get(k) for k in ("recon", "kl", "posterior_std")}}
            for e in epochs or []]
    df = pd.DataFrame(rows).dropna()
    if df.empty:
        return []
    return [alt.Chart(df).mark_line(point=True, color=color).encode(
        x=epoch_x(), y=alt.Y(f"{col}:Q", title=title, scale=alt.Scale(zero=False)),
        tooltip=["epoch:Q", alt.Tooltip(f"{col}:Q", format=".4g", title=title)]).properties(height=height)
        for col, title, color in (("recon", "reconstruction", COLORS["reconstruction"]),
                                  ("kl", "KL to the prior", COLORS["KL to the prior"]),
                                  ("posterior_std", "mean posterior σ", "#2ca02c"))]


def gradient_table(results: dict[str, dict]) -> pd.DataFrame:
    """The reparameterization panel's table: one row per way of sampling z, gradient norms or 'none'."""
    names = {"trick": "μ + σ·ε (trick)", "sample": "Normal(μ, σ).sample()", "sample_kl": ".sample(), + KL"}
    cols = {"mu": "∂L/∂μ", "logvar": "∂L/∂log σ²", "encoder": "encoder weights", "decoder": "decoder weights"}
    rows = [{"how z is drawn": names[k], **{c: "none" if r[key] is None else f"{r[key]:.4g}"
                                            for key, c in cols.items()}} for k, r in results.items()]
    return pd.DataFrame(rows).set_index("how z is drawn")


def density_frame(table: Sequence[dict]) -> pd.DataFrame:
    """engine.teaching.dimensionality.density_table as a table to show."""
    return pd.DataFrame({"d": [r["d"] for r in table],
                         "samples per axis from 60,000": [f"{r['per_axis']:,.0f}" if r["per_axis"] >= 100 else
                                                          f"{r['per_axis']:.3g}" for r in table],
                         "samples for 10 per axis": [f"10^{r['log10_needed']:.0f}" for r in table]}).set_index("d")


def peaking_chart(rows: Sequence[dict], n_train: int, height: int = 260) -> alt.Chart:
    """Trunk's example: test error vs number of features, with the true means and with estimated ones."""
    df = pd.DataFrame([{"d": r["d"], "error": r[k], "classifier": name} for r in rows
                       for k, name in (("known", "true means"),
                                       ("estimated", f"estimated means (n = {n_train})"))])
    return alt.Chart(df).mark_line(point=True).encode(
        x=alt.X("d:Q", title="number of features d", scale=alt.Scale(type="log")),
        y=alt.Y("error:Q", title="test error", scale=alt.Scale(domain=[0, 0.5])),
        color=alt.Color("classifier:N", title=None, legend=alt.Legend(orient="top")),
        tooltip=["d:Q", alt.Tooltip("error:Q", format=".3f"), "classifier:N"]).properties(height=height)
