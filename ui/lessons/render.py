"""One renderer per lesson: draws the evidence dict the engine computed (numbers and uint8 images), with the
lecture's formula beside it where the lecture has one. `render(key, ev, size)` picks the renderer."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from engine.teaching import formulas as fm
from engine.teaching.lessons import LESSONS
from engine.teaching.lessons.architecture import ARMS

from ..draw.images import show_grid, show_row
from ..draw.plots import bars, error_lines, lines, numeric_order, scatter
from ..draw.vega import show_chart
from ..latent_map.layers import DIGIT_SCHEME
from .regularizers import show_regularizers
from .view import hedge, latent_explorer, pm, spread_chart

SHORT = {"mlp": "MLP · 3 numbers", "mlp32": "MLP · 32 numbers", "cnn": "CNN · 32 numbers"}  # chart labels


def latent_plot(ev: dict, title: str):
    rows = [{"z₁": float(a), "z₂": float(b), "digit": str(int(c))}
            for (a, b), c in zip(ev["z"].tolist(), ev["labels"].tolist(), strict=True)]
    return scatter(rows, "z₁", "z₂", color="digit", title=title, height=340, sort=[str(d) for d in range(10)],
                   scheme=DIGIT_SCHEME)  # each digit in the colour the clickable maps give it


# ---- 1 · MLP vs CNN ------------------------------------------------------------------------------------------
def show_mlp_cnn(ev: dict, size: str) -> None:
    lab = LESSONS["mlp-cnn"].labels
    show_row(ev["orig"], "held-out digits")
    for arm in ARMS:
        show_row(ev[arm]["recon"], f"{lab[arm]}: per-image squared error " +
               " · ".join(f"{e:.1f}" for e in ev[arm]["errors"]))
    st.markdown("##### The lecture's pair, as the lecture drew it")
    c = st.columns(2)
    c[0].metric(lab["mlp"], pm(ev["mlp"]["seeds"]), help="held-out squared error per image")
    c[1].metric(lab["cnn"], pm(ev["cnn"]["seeds"]),
                delta=f"{ev['cnn']['seeds']['mean'] - ev['mlp']['seeds']['mean']:+.1f}", delta_color="inverse")
    st.markdown(f"The {'CNN' if ev['winner'] == 'cnn' else 'MLP'} reconstructs better — but the two differ in the "
                "network *and* the code size, so this pair alone cannot say why.")
    st.markdown("##### Controlled: one change at a time")
    a, b = st.columns(2)
    with a:
        spread_chart({SHORT[k]: ev[k]["seeds"] for k in ARMS}, "Held-out error per image (mean ± seed spread)",
                     "squared error / image")
    with b:
        rows = [{"run": SHORT[k], "shift (pixels)": s, "mean": g["mean"], "lo": g["mean"] - g["spread"],
                 "hi": g["mean"] + g["spread"]} for k in ARMS for s, g in zip(ev["shifts"], ev[k]["growth"],
                                                                              strict=True)]
        show_chart(error_lines, rows, "shift (pixels)", "run", "Error growth when the digit moves",
                   y_title="extra error / image")
    _mlp_cnn_findings(ev, lab)
    table = [{"run": lab[k], "code size": ev[k]["latent_dim"], "weights": f"{ev[k]['params']:,}",
              "held-out error": pm(ev[k]["seeds"]), "extra error at 2 px shift": pm(ev[k]["growth"][
                  ev["shifts"].index(ev["findings"]["shift"]["pixels"])])} for k in ARMS]
    st.dataframe(pd.DataFrame(table), hide_index=True, width="stretch")
    st.caption("Error = sum over the 784 pixels of the squared difference (pixels in [0, 1]), averaged over the "
               "1,000 held-out digits; ± = standard deviation over seeds. Shifted: the same digits moved left, right, "
               "up and down, each compared with its moved self.")


def _mlp_cnn_findings(ev: dict, lab: dict) -> None:
    f = ev["findings"]
    bn, eq, sh = f["bottleneck"], f["equal_code"], f["shift"]
    better = "CNN" if eq["gap"] < 0 else "MLP"
    st.markdown(
        f"- **The bottleneck** (3 → 32 numbers, nothing else changed): the MLP's error falls by {bn['gap']:.1f}. " +
        hedge(bn["separated"], "The 3-number code makes the blur", "The code size may matter") + "\n"
        f"- **The architecture at equal code size** (MLP vs CNN, both 32 numbers): {pm(ev['mlp32']['seeds'])} vs "
        f"{pm(ev['cnn']['seeds'])}, {eq['relative']:.0%} apart. " +
        hedge(eq["separated"], f"The {better} reconstructs better",
              "About the same error: neither architecture wins on error") +
        f" The CNN needs **{eq['weights_ratio']:.1f}× fewer weights**: it reuses its small filters at every position.\n"
        f"- **What convolution buys** (digits moved {sh['pixels']} pixels): the error grows by {sh['mlp32']:.1f} for "
        f"the 32-number MLP and {sh['cnn']:.1f} for the CNN. " +
        hedge(sh["separated"], "The CNN copes better with moved digits",
              "The CNN may cope better with moved digits"))


# ---- 2, 3 · latent spaces ------------------------------------------------------------------------------------
def _seeds_caption(ev: dict) -> None:
    s = ev.get("seeds", {})
    if s:
        st.caption("Over seeds: " + " · ".join(f"{k.replace('_', ' ')} {pm(v, 2)}" for k, v in s.items()))


def show_ae_latent(ev: dict, size: str) -> None:
    st.latex(fm.ae_vanilla())
    st.caption("The AE's whole loss (lecture): rebuild x. Nothing in it says where the codes E(x) should lie.")
    a, b = st.columns(2)
    with a:
        show_chart(latent_plot, ev, "Codes of 1,000 held-out digits")
    with b:
        show_grid(ev["grid"], f"Decoding a {ev['n_grid']}×{ev['n_grid']} grid over the same box "
                              f"(z₁ {ev['lo'][0]:.1f}…{ev['hi'][0]:.1f}, z₂ {ev['lo'][1]:.1f}…{ev['hi'][1]:.1f})",
                  nrow=ev["n_grid"], scale=2)
    c = st.columns(3)
    c[0].metric("grid points far from every code", f"{ev['emptiness']:.0%}")
    c[1].metric("empty-region decodes: distance to the nearest real digit", f"{ev['garbage_empty']:.1f}")
    c[2].metric("codes' distance from N(0, I)", f"{ev['gap_to_normal']:.2f}")
    _seeds_caption(ev)
    st.caption("'Far' = more than 3× the typical gap between neighbouring codes. Distance to the nearest real digit = "
               "squared pixel distance from a decoded grid image to the closest of 1,000 real held-out digits "
               "(a typical reconstruction is ~20–40). Distance from N(0, I) = average over dimensions of "
               "|mean| + |std − 1| of the codes (compare lesson 3, where a VAE's codes are μ + σ·ε).")
    latent_explorer(size, "ae-latent", "ae", ev)


def show_vae_latent(ev: dict, size: str) -> None:
    a, b = st.columns(2)
    with a:
        show_chart(latent_plot, ev, "VAE: means μ of 1,000 held-out digits")
        show_chart(latent_plot, ev["ae"], "AE (lesson 2) for comparison")
    with b:
        show_grid(ev["grid"], f"Decoding a {ev['n_grid']}×{ev['n_grid']} grid over [-2.5, 2.5]²",
                  nrow=ev["n_grid"], scale=2)
    rows = [{"model": m, "mean z₁": e["mean"][0], "mean z₂": e["mean"][1], "std z₁": e["std"][0],
             "std z₂": e["std"][1], "std μ₁": e["std_mu"][0], "std μ₂": e["std_mu"][1],
             "distance from N(0, I)": e["gap_to_normal"],
             "grid points far from every code": e["emptiness"]}
            for m, e in (("VAE", ev), ("AE", ev["ae"]))]
    st.dataframe(pd.DataFrame(rows).round(3), hide_index=True)
    st.caption("The codes z = μ + σ·ε (one draw per digit: the aggregate posterior, what the prior is compared "
               "with; for the AE its code z). Distance from N(0, I) = average over dimensions of |mean| + |std − 1| "
               "of those codes (0 = exactly the prior). Var[z] = Var[μ] + E[σ²]: the means carry std μ = "
               f"({ev['std_mu'][0]:.2f}, {ev['std_mu'][1]:.2f}) of this VAE's spread std z = ({ev['std'][0]:.2f}, "
               f"{ev['std'][1]:.2f}) and σ adds the rest; a VAE whose codes match the prior (std z ≈ 1) has std μ "
               "below 1.")
    latent_explorer(size, "vae-latent", "vae", ev)


# ---- 4, 5 · the VAE over β and over epochs --------------------------------------------------------------------
def show_beta(ev: dict, size: str) -> None:
    rows = sorted(ev["rows"], key=lambda r: r["beta"])
    order = numeric_order([f"{r['beta']:g}" for r in rows])
    st.latex(fm.vae_loss())
    a, b = st.columns(2)
    with a:
        pts = [{"β": f"{r['beta']:g}", "KL (rate, nats)": r["kl"], "reconstruction (distortion)": r["recon"]}
               for r in rows]
        show_chart(scatter, pts, "KL (rate, nats)", "reconstruction (distortion)", color="β", label="β",
                   title="Rate–distortion plane: one point per β", sort=order)
    with b:
        curves = [{**c, "β": f"{c['beta']:g}"} for c in ev["curves"]]
        show_chart(lines, curves, "epoch", "kl", "β", "Held-out KL per epoch", sort=order, y_title="KL (nats)")
        show_chart(lines, curves, "epoch", "recon", "β", "Held-out reconstruction (BCE) per epoch", sort=order,
                   y_title="reconstruction (BCE)")
    table = pd.DataFrame([{"β": r["beta"], "reconstruction": r["recon"], "KL": r["kl"], "pixel error": r["mse01"],
                           "posterior std σ": r["posterior_std"],
                           f"active dims (of {ev['latent_dim']})": r["active_dims"]} for r in rows])
    st.dataframe(table.round(3), hide_index=True)
    kd = [{"β": f"{r['beta']:g}", "dimension": i + 1, "KL": v} for r in rows for i, v in enumerate(r["kl_per_dim"])]
    if kd:
        show_chart(bars, kd, "dimension", "KL", color="β", title="KL per latent dimension (near 0 = switched off)",
                   y_title="KL (nats)", sort=order)
    st.caption(f"A dimension counts as active when its KL exceeds {ev['active_threshold']:g} nats. One seed per β "
               "(this lesson is not replicated over seeds).")
    show_row(ev["orig"], "held-out digits")
    for r in rows:
        beta = r["beta"]
        c1, c2 = st.columns(2)
        with c1:
            show_row(ev["recons"][beta], f"β = {beta:g}: reconstructions")
        with c2:
            if len(ev["samples"][beta]):
                show_row(ev["samples"][beta][:8], f"β = {beta:g}: samples from N(0, I)")


def show_epochs(ev: dict, size: str) -> None:
    if not ev["frames"]:
        st.info("No snapshots yet.")
        return
    epochs = [e for e, _ in ev["frames"]]
    e = epochs[0]
    if len(epochs) > 1:
        e = st.select_slider("Epoch", options=epochs, value=epochs[-1], key="lesson_epoch")
    imgs = dict(ev["frames"])
    a, b = st.columns(2)
    with a:
        show_grid(imgs[epochs[0]], f"epoch {epochs[0]}: 16 fixed codes z", nrow=4, scale=3)
    with b:
        show_grid(imgs[e], f"epoch {e}: the same 16 codes", nrow=4, scale=3)
    a, b = st.columns(2)
    with a:
        show_chart(lines, [{**c, "curve": "held-out −ELBO"} for c in ev["curve"]], "epoch", "loss", "curve",
                   "Held-out loss (negative ELBO) per epoch")
    with b:
        rows = [{"epoch": d["epoch"], "value": d[m], "measure": name} for d in ev["digitness"]
                for m, name in (("stroke_share", "stroke share"), ("confidence", "classifier confidence"))]
        if rows:
            show_chart(lines, rows, "epoch", "value", "measure", "How digit-like the 64 samples are")
    real = ev["real"]
    st.caption(f"Real held-out digits: stroke share {real['stroke_share']:.2f}, classifier confidence "
               f"{real['confidence']:.2f}. Stroke share = bright ink / all ink; confidence = how sure a plain digit "
               "classifier is.")


# ---- 7, 8 · capacity and the curse ---------------------------------------------------------------------------
def show_complete(ev: dict, size: str) -> None:
    st.latex(fm.ae_vanilla())
    show_row(ev["orig"], "held-out digits")
    for k in ("under", "over"):
        show_row(ev[k]["digits"], f"{k}-complete (k = {ev[k]['latent_dim']}): reconstructions")
    show_row(ev["odd"], "inputs that are not digits (shapes, noise)")
    for k in ("under", "over"):
        show_row(ev[k]["odd"], f"{k}-complete (k = {ev[k]['latent_dim']}): what it makes of them")
    rows = [{"model": f"{k}-complete (k={ev[k]['latent_dim']})", "input": inp, "relative error": ev[k][f"rel_{key}"]}
            for k in ("under", "over") for inp, key in (("held-out digits", "digits"), ("shapes", "shapes"),
                                                        ("noise", "noise"))]
    show_chart(bars, rows, "input", "relative error", color="model",
               title="Reconstruction error / input energy (0 = perfect copy)")


def show_curse(ev: dict, size: str) -> None:
    vol = [{"d": r["d"], "V_sphere / V_cube": r["ratio"], "curve": "formula"} for r in ev["volume"]]
    vol += [{"d": r["d"], "V_sphere / V_cube": r["monte_carlo"], "curve": "random points"}
            for r in ev["volume"] if r["monte_carlo"] is not None and r["monte_carlo"] > 0]
    a, b = st.columns(2)
    with a:
        d = st.select_slider("Dimension d", options=[r["d"] for r in ev["volume"]], value=10, key="lesson_curse_d")
        ratio = ev["volume"][d - 1]["ratio"]
        st.latex(fm.hypersphere_ratio(d, ratio))
        show_chart(lines, vol, "d", "V_sphere / V_cube", "curve", "The ratio against d (log scale)", log_y=True)
        st.caption(f"d = 2: {ev['volume'][1]['ratio']:.4f} (π/4) · d = 3: {ev['volume'][2]['ratio']:.4f} (π/6) · "
                   f"d = 10: {ev['volume'][9]['ratio']:.2e} · d = 30: {ev['volume'][29]['ratio']:.1e}")
    with b:
        st.latex(fm.sample_cost(d, 10))
        st.caption(f"Ten samples along every axis take 10^{d} samples in d = {d} dimensions: the sample cost grows "
                   "exponentially (the lecture's peaking phenomenon — with a fixed sample, more features eventually "
                   "predict worse).")
        dist = [{"d": r["d"], "max / min distance": r["ratio"], "curve": "500 random points"} for r in ev["distance"]]
        show_chart(lines, dist, "d", "max / min distance", "curve", "Farthest / nearest neighbour of a random point",
                   log_y=True, log_x=True, x_title="d (log scale)")
        st.caption(" · ".join(f"d={r['d']}: {r['ratio']:.2f}" for r in ev["distance"][-4:]))


def render(key: str, ev: dict, size: str) -> None:
    {"mlp-cnn": show_mlp_cnn, "ae-latent": show_ae_latent, "vae-latent": show_vae_latent, "beta": show_beta,
     "epochs": show_epochs, "complete": show_complete, "curse": show_curse,
     "regularizers": show_regularizers}[key](ev, size)
