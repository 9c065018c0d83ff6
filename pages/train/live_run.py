"""Live run: progress, the reconstruction-vs-KL tension as it happens, steering β and the learning rate."""

from __future__ import annotations

import numpy as np
import streamlit as st

from engine.jobs import QUEUED, RESUMABLE, JobError, JobInfo
from engine.teaching.narration import fmt_seconds, trend_text
from ui.access.auth import try_user_backend
from ui.background import cancel_button
from ui.draw.charts import loss_chart, total_chart
from ui.draw.formulas import loss_formulas
from ui.draw.images import show_grid
from ui.nav import link
from ui.pickers import job_picker
from ui.runs import snapshot
from ui.state import select_run

REFRESH_S = 1.0  # how often the running job is polled (only while it runs)
FIRST_POINT_S = 0.1  # ... and while it has started but shows no point yet: the first point is a moment away


def phase(job: JobInfo) -> str:
    """What the page is waiting for: queued | starting (no point yet) | running | done."""
    if job.done:
        return "done"
    return "queued" if job.status == QUEUED else "running" if job.step else "starting"


st.title("Live run")
be = try_user_backend()
if be is None:
    st.stop()
info = job_picker(be, "Job", key="live_job")
if info is None:
    st.info("No training jobs yet. Launch one on the **Train** page — it opens here by itself.")
    link("train", "Go to Train")
    st.stop()

jid = info.job_id
cfg = info.config
variational = bool(cfg.get("variational"))
running = not info.done

# ---- controls (a click reruns the page, which picks up the new status) ----------------------------
b1, b2, b3 = st.columns([1, 1, 4])
with b1:
    cancel_button(be, jid, "cancel", disabled=not running,
                  help="Stop after the current step; the last finished epoch stays saved and can be resumed.")
with b2:
    if st.button("Resume", disabled=info.status not in RESUMABLE, key="resume", icon=":material/play_arrow:",
                 help="Continue a cancelled, failed or interrupted job from its last finished epoch."):
        try:
            select_run(be.resume(jid))
        except JobError as e:
            st.error(str(e))
        else:
            st.rerun()

if running:
    with st.expander("Steer the running job", expanded=variational, icon=":material/tune:"):
        with st.form("steer", border=False):
            s1, s2 = st.columns(2)
            beta_now = float(info.latest.get("beta", cfg.get("beta", 1.0)) or 0.0)
            lr_now = float(info.latest.get("lr", cfg.get("lr", 1e-3)) or 1e-3)
            beta = s1.slider("β (KL weight)", 0.0, 10.0, min(beta_now, 10.0), 0.05, disabled=not variational,
                             help="Raise β: codes are pulled harder toward N(0, I) — KL falls, reconstructions blur. "
                                  "Lower it: the opposite. Takes effect from the next step; the chart marks it.")
            lr = s2.number_input("Learning rate", value=lr_now, format="%.1e", step=1e-4,
                                 help="Adam's step size from the next step on. Too high makes the loss jump or NaN.")
            if st.form_submit_button("Apply to the running job"):
                try:  # the backend checks the values (check_steer) and says what to change
                    be.steer(jid, beta=beta if variational and beta != beta_now else None,
                             lr=lr if lr != lr_now else None)
                    st.toast(f"Steered: β = {beta:g}, lr = {lr:g}")
                except JobError as e:
                    st.error(str(e))


def status_line(now) -> None:
    st.progress(now.progress,
                text=f"{now.status} · epoch {now.epoch}/{now.epochs or cfg.get('epochs')} · "
                     f"step {now.step}/{now.steps_total or '?'} · "
                     f"ETA {fmt_seconds(now.eta_s) if not now.done else '—'}")
    if now.status == "failed":
        st.error(now.message or "The job failed.")
    elif now.status in ("cancelled", "interrupted"):
        st.warning((now.message or f"The job was {now.status}.") + " Press Resume to continue from the last epoch.")
    elif now.status == "completed":
        st.success("already trained — loaded from cache" if now.cached else (now.message or "Training finished."))


def metrics_row(lat: dict) -> None:
    shown = [("reconstruction / image", "recon", "{:.4g}", True), ("KL / image", "kl", "{:.4g}", variational),
             ("β in effect", "beta", "{:g}", variational), ("learning rate", "lr", "{:g}", True),
             ("images / s", "images_per_s", "{:,.0f}", True)]
    for col, (label, key, fmt, applies) in zip(st.columns(len(shown)), shown, strict=True):
        col.metric(label, fmt.format(lat[key]) if applies and key in lat else "—")


def charts(hist: dict, lat: dict, step: int, done: bool) -> None:
    chart_col, text_col = st.columns([3, 2])
    with chart_col:
        chart = loss_chart(hist)
        if chart is None:
            st.info("The first points appear after a few steps…")
        else:
            st.vega_lite_chart(chart, width="stretch")
            total = total_chart(hist)
            if total is not None:
                st.vega_lite_chart(total, width="stretch")
            st.caption("Top: reconstruction (left axis) and " + ("KL" if variational else "the regulariser, if any,")
                       + " (right axis) per image, each on its own scale; diamonds are held-out values after each "
                       "epoch. Bottom: the total loss the optimizer minimises"
                       + (" and β in effect" if variational else "") + ". Dashed red lines: β or the learning rate "
                       "changed. Long runs are averaged to ≤ 500 points.")
    with text_col:
        st.markdown("**The loss being minimised**")
        loss_formulas(cfg, lat, f"at step {step}")
        st.markdown("**What happened**" if done else "**What is happening now**")
        st.markdown(trend_text(hist.get("steps") or [], variational, hist.get("events"), done))


def pictures(now) -> None:
    snap = snapshot(jid, now.epoch) if now.epoch else None  # the job is this user's (be.status said so); cached
    if not snap:
        if not now.done:
            st.caption("Pictures appear after the first epoch.")
        return
    st.markdown(f"**After epoch {now.epoch}** — fixed held-out digits (top) and their reconstructions (bottom)"
                + (", and digits decoded from fixed random z ~ N(0, I):" if "samples" in snap else ":"))
    a, b = st.columns(2)
    with a:
        show_grid(np.concatenate([snap["orig"][:8], snap["recon"][:8]]), "originals / reconstructions")
    if "samples" in snap:
        with b:
            show_grid(snap["samples"][:16], "samples from fixed z")


@st.fragment(run_every={"queued": REFRESH_S, "starting": FIRST_POINT_S, "running": REFRESH_S}.get(phase(info)))
def live() -> None:
    """Everything that changes while the job runs; re-executed alone every REFRESH_S seconds (FIRST_POINT_S while
    the first point is on its way)."""
    try:
        now = be.status(jid)
        hist = be.metrics(jid)
    except JobError as e:
        st.error(f"{e}. Pick another job above.")
        return
    status_line(now)
    metrics_row(now.latest or {})
    if phase(now) == "starting":  # polled 10× a second for a moment: only what the first point fills in
        st.caption("Starting: the first training step is on its way…")
    else:
        charts(hist, now.latest or {}, now.step, now.done)
        pictures(now)
    if phase(now) != phase(info):
        st.rerun()  # one full rerun: the poll period changes, buttons and steering switch to the finished state


live()
