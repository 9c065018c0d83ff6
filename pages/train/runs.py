"""Runs: every job and stored run with status, settings and final metrics; open, resume, cancel, delete."""

from __future__ import annotations

import streamlit as st

from engine.core.store import RunLocked
from engine.jobs import FINISHED, RESUMABLE, JobError
from engine.teaching.narration import run_label
from ui.access.auth import limits_panel, try_user_backend
from ui.backend import store
from ui.background import cancel_button
from ui.draw.charts import epoch_chart
from ui.draw.tables import merge_runs, metrics_table, overview, settings_table
from ui.draw.vega import spec
from ui.nav import go, link
from ui.runs import download_button, heldout_count, runs
from ui.state import RUN_KEY, select_run

st.title("Runs")
st.caption("Every run trained here (in the app or with `python -m engine train`). A run's id is a hash of its "
           "settings, so training the same settings again loads it from this list instead of retraining.")

be = try_user_backend()
s = store()
jobs = {}
if be is not None:
    try:
        jobs = {j.job_id: j for j in be.jobs()}
    except JobError as e:
        st.error(str(e))
rows = merge_runs(runs(with_snapshots=False), jobs)  # in classroom mode a student's own runs only

if not rows:
    st.info("No runs yet. Train one on the **Train** page.")
    link("train", "Go to Train")
    st.stop()

order = list(rows)
st.dataframe(overview(rows), hide_index=True, width="stretch")
st.caption("held-out recon and KL are per image (the units of the run's own loss); pixel MSE is the mean squared "
           "error per pixel in [0, 1], comparable across every model.")

st.subheader("Work with one run")
if st.session_state.get("runs_pick") not in order:
    st.session_state.pop("runs_pick", None)
pick = st.selectbox("Run", order, key="runs_pick",
                    index=order.index(st.session_state[RUN_KEY]) if st.session_state.get(RUN_KEY) in order else 0,
                    format_func=lambda i: run_label({**rows[i], "run_id": i}))
r = rows[pick]
status = r["status"]
is_job = pick in jobs
running = is_job and jobs[pick].status not in FINISHED
damaged = s.damaged(pick)  # a truncated or overwritten checkpoint: only retraining helps
if damaged:
    st.error(f"This checkpoint is damaged: retrain ({damaged})")

c = st.columns(4)
if c[0].button("Open", key="runs_open", icon=":material/open_in_new:",
               disabled=not r.get("epochs_done") or bool(damaged),
               help="Make this the run shown on the Reconstructions, Samples and Latent space pages."):
    select_run(pick)
    st.success(f"Opened {pick[:8]}: the viewing pages now show it.")
STORE_RESUMABLE = ("stopped", "failed", "running", "interrupted")  # run statuses in the store with a checkpoint
resumable = (is_job and jobs[pick].status in RESUMABLE) or (not is_job and status in STORE_RESUMABLE)
if c[1].button("Retrain" if damaged else "Resume", key="runs_resume", icon=":material/play_arrow:",
               disabled=be is None or running or not (resumable or damaged),
               help="Train it again from scratch (the damaged checkpoint is replaced)." if damaged else
                    "Continue from the last finished epoch (after a cancel, a failure or an app restart)."):
    try:
        jid = be.submit(s.config(pick)) if damaged or not is_job else be.resume(pick)
    except (JobError, FileNotFoundError) as e:
        st.error(f"Could not {'retrain' if damaged else 'resume'}: {e}")
    else:
        select_run(jid)
        go("live_run")
with c[2]:
    cancel_button(be, pick, "runs_cancel", disabled=not running,
                  help="Stop the running job after its current step; the last finished epoch is kept.")
with c[3]:
    sure = st.checkbox("I'm sure", key="runs_sure", help="Deleting removes the weights, history and snapshots.")
    if st.button("Delete", key="runs_delete", icon=":material/delete:", disabled=not sure, type="secondary",
                 help="Forget this run and delete its checkpoint (a running job is cancelled first)."):
        try:
            if is_job and be is not None:
                be.delete(pick)  # a classroom student's delete only removes a shared run from their own list
            else:
                s.delete(pick)
        except (JobError, RunLocked) as e:  # RunLocked: another process is training it right now
            st.error(str(e))
        else:
            if st.session_state.get(RUN_KEY) == pick:
                select_run(None)
            del st.session_state["runs_sure"]
            st.toast(f"Deleted {pick[:8]}.")
            st.rerun()

if r.get("message"):
    (st.error if status == "failed" else st.info)(r["message"])
if not damaged:
    download_button(pick, key="runs_export")
left, right = st.columns([2, 3])
with left:
    st.markdown("**Settings**")
    st.dataframe(settings_table(r["config"]), hide_index=True, width="stretch", height=260)
    if r["heldout"]:
        n = heldout_count(r["config"].get("dataset", ""))
        st.markdown(f"**Final held-out metrics** ({f'{n:,} ' if n else ''}held-out images, never trained on)")
        st.dataframe(metrics_table(r["heldout"]), hide_index=True, width="stretch")
with right:
    hist = s.history(pick)
    ch = spec(epoch_chart, hist.get("epochs") or [], "recon")
    if ch is not None:
        st.markdown("**Reconstruction per epoch: training vs held-out** (a growing gap means overfitting)")
        st.vega_lite_chart(ch, width="stretch")

limits_panel()  # classroom mode: the class limits (instructors can change them)
