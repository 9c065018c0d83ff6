"""Lessons: every claim of the lecture one click away — the claim, the evidence on real digits, and why."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from engine.teaching.lessons import LESSONS, Runs, default_size
from ui.backend import store
from ui.background import ensure_runs
from ui.images import show_grid
from ui.lesson_charts import bars, histogram, lines, scatter
from ui.runs import checkpoint_mtime, load_model

st.title("Lessons")
st.caption("Each lesson states one claim of the lecture, trains (or loads) the small runs that show it, and draws "
           "the evidence on real held-out MNIST digits. Runs are cached: once anyone trained them, they load at once.")

keys = list(LESSONS)
with st.sidebar:
    key = st.radio("Lesson", keys, format_func=lambda k: LESSONS[k].title, key="lesson")
    quick = st.toggle("Quick version", value=False, key="lesson_quick",
                      help="2,000 training digits and 3 epochs: seconds instead of minutes, rougher pictures.")
size = "test" if quick else default_size()
lesson = LESSONS[key]


def u8_row(images, caption: str, nrow: int | None = None, scale: int = 3) -> None:
    show_grid(images, caption, nrow=nrow or max(1, len(images)), scale=scale)


def latent_plot(ev: dict, title: str):
    rows = [{"z₁": float(a), "z₂": float(b), "digit": str(int(c))}
            for (a, b), c in zip(ev["z"].tolist(), ev["labels"].tolist(), strict=True)]
    return scatter(rows, "z₁", "z₂", color="digit", title=title, height=340)


# ---- one renderer per lesson -----------------------------------------------------------------------
def show_mlp_cnn(ev: dict) -> None:
    u8_row(ev["orig"], "held-out digits")
    for k, name in (("mlp", "MLP AE (3-number code)"), ("cnn", "CNN AE (32-number code)")):
        u8_row(ev[k]["recon"], f"{name}: per-image squared error " +
               " · ".join(f"{e:.1f}" for e in ev[k]["errors"]))
    c = st.columns(2)
    c[0].metric("MLP mean error / image", f"{ev['mlp']['mse01']:.2f}")
    c[1].metric("CNN mean error / image", f"{ev['cnn']['mse01']:.2f}",
                delta=f"{ev['cnn']['mse01'] - ev['mlp']['mse01']:+.2f}", delta_color="inverse")
    st.caption("Error = sum over the 784 pixels of the squared difference (pixels in [0, 1]), averaged over the "
               "1,000 held-out digits.")


def show_ae_latent(ev: dict) -> None:
    a, b = st.columns(2)
    with a:
        st.altair_chart(latent_plot(ev, "Codes of 1,000 held-out digits"), width="stretch")
    with b:
        show_grid(ev["grid"], f"Decoding a {ev['n_grid']}×{ev['n_grid']} grid over the same box "
                              f"(z₁ {ev['lo'][0]:.1f}…{ev['hi'][0]:.1f}, z₂ {ev['lo'][1]:.1f}…{ev['hi'][1]:.1f})",
                  nrow=ev["n_grid"], scale=2)
    c = st.columns(3)
    c[0].metric("grid points far from every code", f"{ev['emptiness']:.0%}")
    c[1].metric("empty-region decodes: distance to the nearest real digit", f"{ev['garbage_empty']:.1f}")
    c[2].metric("codes' distance from N(0, I)", f"{ev['gap_to_normal']:.2f}")
    st.caption("'Far' = more than 3× the typical gap between neighbouring codes. Distance to the nearest real digit = "
               "squared pixel distance from a decoded grid image to the closest of 1,000 real held-out digits "
               "(a typical reconstruction is ~20–40): the larger, the less it looks like any digit. Distance from "
               "N(0, I) = average over dimensions of |mean| + |std − 1| of the codes (compare lesson 3).")


def show_vae_latent(ev: dict) -> None:
    a, b = st.columns(2)
    with a:
        st.altair_chart(latent_plot(ev, "VAE: means μ of 1,000 held-out digits"), width="stretch")
        st.altair_chart(latent_plot(ev["ae"], "AE (lesson 2) for comparison"), width="stretch")
    with b:
        show_grid(ev["grid"], f"Decoding a {ev['n_grid']}×{ev['n_grid']} grid over [-2.5, 2.5]²",
                  nrow=ev["n_grid"], scale=2)
    rows = [{"model": m, "mean z₁": e["mean"][0], "mean z₂": e["mean"][1], "std z₁": e["std"][0],
             "std z₂": e["std"][1], "distance from N(0, I)": e["gap_to_normal"],
             "grid points far from every code": e["emptiness"]}
            for m, e in (("VAE", ev), ("AE", ev["ae"]))]
    st.dataframe(pd.DataFrame(rows).round(3), hide_index=True)
    st.caption("Distance from N(0, I) = average over dimensions of |mean| + |std − 1| of the codes (0 = exactly "
               "the prior).")


def show_beta(ev: dict) -> None:
    rows = ev["rows"]
    a, b = st.columns(2)
    with a:
        pts = [{"β": f"{r['beta']:g}", "KL (rate, nats)": r["kl"], "reconstruction (distortion)": r["recon"]}
               for r in rows]
        st.altair_chart(scatter(pts, "KL (rate, nats)", "reconstruction (distortion)", color="β", label="β",
                                title="Rate–distortion plane: one point per β"), width="stretch")
    with b:
        curves = [{**c, "β": f"{c['beta']:g}"} for c in ev["curves"]]
        st.altair_chart(lines(curves, "epoch", "kl", "β", "Held-out KL per epoch"), width="stretch")
        st.altair_chart(lines(curves, "epoch", "recon", "β", "Held-out reconstruction (BCE) per epoch"),
                        width="stretch")
    table = pd.DataFrame([{"β": r["beta"], "reconstruction": r["recon"], "KL": r["kl"], "pixel error": r["mse01"],
                           "posterior std σ": r["posterior_std"],
                           f"active dims (of {ev['latent_dim']})": r["active_dims"]}
                          for r in rows])
    st.dataframe(table.round(3), hide_index=True)
    kd = [{"β": f"{r['beta']:g}", "dimension": i + 1, "KL": v} for r in rows for i, v in enumerate(r["kl_per_dim"])]
    if kd:
        st.altair_chart(bars(kd, "dimension", "KL", color="β", title="KL per latent dimension (near 0 = switched off)",
                             y_title="KL (nats)"), width="stretch")
    u8_row(ev["orig"], "held-out digits")
    for r in rows:
        beta = r["beta"]
        c1, c2 = st.columns(2)
        with c1:
            u8_row(ev["recons"][beta], f"β = {beta:g}: reconstructions")
        with c2:
            if len(ev["samples"][beta]):
                u8_row(ev["samples"][beta][:8], f"β = {beta:g}: samples from N(0, I)")


def show_epochs(ev: dict) -> None:
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
    st.altair_chart(lines([{**c, "curve": "held-out −ELBO"} for c in ev["curve"]], "epoch", "loss", "curve",
                          "Held-out loss (negative ELBO) per epoch"), width="stretch")


def show_regularizers(ev: dict, runs: Runs) -> None:
    from engine.teaching.lessons import denoising_evidence

    st.subheader("Denoising")
    level = st.slider("Noise level (Gaussian std on pixels in [0, 1])", 0.0, 1.0, 0.5, 0.05, key="lesson_noise")
    d = denoising_evidence(runs, level)
    u8_row(d["orig"], "clean held-out digits")
    u8_row(d["noisy"], f"noisy input · error {d['err_noisy']:.1f}")
    u8_row(d["plain"], f"plain AE's output · error {d['err_plain']:.1f}")
    u8_row(d["denoising"], f"denoising AE's output · error {d['err_denoising']:.1f}")
    st.caption("Error = squared difference from the *clean* digit, summed over pixels, averaged over 1,000 digits.")

    st.subheader("Contractive")
    c = ev["contractive"]
    cols = st.columns(2)
    cols[0].metric("latent movement, contractive penalty on", f"{c['contractive']['relative']:.3f}")
    cols[1].metric("latent movement, penalty off", f"{c['uncontracted']['relative']:.3f}")
    rows = [{"model": m, "movement": v} for m, k in (("penalty on", "contractive"), ("penalty off", "uncontracted"))
            for v in c[k]["movement"]]
    st.altair_chart(histogram(rows, "movement", "model", f"How far the code moves when each input gets noise of "
                              f"std {c['eps']}", x_title="‖E(x+δ) − E(x)‖ / spread of the codes"), width="stretch")
    st.caption(f"Movement is relative to the codes' overall spread, so shrinking the whole code does not count. "
               f"Reconstruction error: {c['contractive']['mse01']:.1f} (on) vs {c['uncontracted']['mse01']:.1f} (off).")

    st.subheader("Sparsity")
    s = ev["sparsity"]
    cols = st.columns(3)
    cols[0].metric("target ρ", f"{s['sparse']['rho']:.2f}")
    cols[1].metric("mean activation, sparsity on", f"{s['sparse']['mean_activation']:.3f}")
    cols[2].metric("mean activation, sparsity off", f"{s['dense']['mean_activation']:.3f}")
    rows = [{"model": m, "activation": v} for m, k in (("sparsity on", "sparse"), ("sparsity off", "dense"))
            for v in s[k]["sample"]]
    st.altair_chart(histogram(rows, "activation", "model", "Activations of the 1,024 code units on 50 digits"),
                    width="stretch")
    st.caption(f"Units above 0.5: {s['sparse']['fraction_on']:.1%} with the penalty, "
               f"{s['dense']['fraction_on']:.1%} without.")


def show_complete(ev: dict) -> None:
    u8_row(ev["orig"], "held-out digits")
    for k in ("under", "over"):
        u8_row(ev[k]["digits"], f"{k}-complete (k = {ev[k]['latent_dim']}): reconstructions")
    u8_row(ev["odd"], "inputs that are not digits (shapes, noise)")
    for k in ("under", "over"):
        u8_row(ev[k]["odd"], f"{k}-complete (k = {ev[k]['latent_dim']}): what it makes of them")
    rows = [{"model": f"{k}-complete (k={ev[k]['latent_dim']})", "input": inp, "relative error": ev[k][f"rel_{key}"]}
            for k in ("under", "over") for inp, key in (("held-out digits", "digits"), ("shapes", "shapes"),
                                                        ("noise", "noise"))]
    st.altair_chart(bars(rows, "input", "relative error", color="model",
                         title="Reconstruction error / input energy (0 = perfect copy)"), width="stretch")


def show_curse(ev: dict) -> None:
    vol = [{"d": r["d"], "V_sphere / V_cube": r["ratio"], "curve": "formula"} for r in ev["volume"]]
    vol += [{"d": r["d"], "V_sphere / V_cube": r["monte_carlo"], "curve": "random points"}
            for r in ev["volume"] if r["monte_carlo"] is not None and r["monte_carlo"] > 0]
    a, b = st.columns(2)
    with a:
        st.altair_chart(lines(vol, "d", "V_sphere / V_cube", "curve",
                              "π^{d/2} / (d·2^{d−1}·Γ(d/2)) — log scale", log_y=True), width="stretch")
        st.caption(f"d = 2: {ev['volume'][1]['ratio']:.4f} (π/4) · d = 3: {ev['volume'][2]['ratio']:.4f} (π/6) · "
                   f"d = 10: {ev['volume'][9]['ratio']:.2e} · d = 30: {ev['volume'][29]['ratio']:.1e}")
    with b:
        dist = [{"d": r["d"], "max / min distance": r["ratio"], "curve": "500 random points"} for r in ev["distance"]]
        st.altair_chart(lines(dist, "d", "max / min distance", "curve",
                              "Farthest / nearest neighbour of a random point", log_y=True, log_x=True,
                              x_title="d (log scale)"),
                        width="stretch")
        st.caption(" · ".join(f"d={r['d']}: {r['ratio']:.2f}" for r in ev["distance"][-4:]))


RENDER = {"mlp-cnn": show_mlp_cnn, "ae-latent": show_ae_latent, "vae-latent": show_vae_latent, "beta": show_beta,
          "epochs": show_epochs, "complete": show_complete, "curse": show_curse}


@st.cache_data(show_spinner="Computing the evidence…", max_entries=16)
def evidence(key: str, size: str, stamp: tuple) -> dict:
    """The lesson's evidence; `stamp` (run ids and checkpoint times) invalidates it when runs change."""
    return LESSONS[key].evidence(LESSONS[key].runs(size, store(), load_model))


# ---- the page --------------------------------------------------------------------------------------
st.header(lesson.title)
st.info(f"**Claim.** {lesson.claim}")
if lesson.note:
    st.caption(lesson.note)
runs = lesson.runs(size, store(), load_model)
if ensure_runs(runs.specs, f"lesson_{key}", "this lesson's runs"):
    stamp = tuple((c.run_id(), checkpoint_mtime(c.run_id())) for c in runs.specs.values())
    try:
        ev = evidence(key, size, stamp)
    except Exception as e:  # noqa: BLE001 - a half-written or deleted run must not break the page
        st.error(f"Could not compute the evidence: {e}. Delete and retrain the run on the Runs page if this persists.")
        ev = None
    if ev is not None:
        if key == "regularizers":
            show_regularizers(ev, runs)
        else:
            RENDER[key](ev)
st.success(f"**Why.** {lesson.why}")
