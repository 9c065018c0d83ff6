"""Runs: every job and stored run with status, settings and final metrics; open, resume, cancel, delete."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from engine.jobs import FINISHED, RESUMABLE, JobError
from ui.auth import limits_panel
from ui.charts import epoch_chart
from ui.common import RUN_KEY, link, page_config, run_label, runs, select_run, store, try_backend
from ui.extra_ui import download_button

page_config("Runs", ":material/folder_open:")

st.title("Runs")
st.caption("Every run trained here (in the app or with `python -m engine train`). A run's id is a hash of its "
           "settings, so training the same settings again loads it from this list instead of retraining.")

be = try_backend()
s = store()
rows: dict[str, dict] = {}
for m in runs(with_snapshots=False):  # in classroom mode a student's own runs only
    rows[m["run_id"]] = {"run_id": m["run_id"], "status": m.get("status", "?"), "config": m.get("config") or {},
                         "epochs_done": m.get("epochs_done", 0), "epochs": m.get("epochs"),
                         "train": m.get("train") or {}, "heldout": m.get("heldout") or {},
                         "message": m.get("message", ""), "updated": m.get("updated", 0)}
jobs = {}
if be is not None:
    try:
        jobs = {j.job_id: j for j in be.jobs()}
    except JobError as e:
        st.error(str(e))
for jid, j in jobs.items():
    r = rows.setdefault(jid, {"run_id": jid, "config": j.config, "train": {}, "heldout": {}, "updated": j.created})
    r.update(status=j.status, epochs_done=max(j.epoch, r.get("epochs_done") or 0), epochs=j.epochs,
             message=j.message or r.get("message", ""), owner=j.owner)

if not rows:
    st.info("No runs yet. Train one on the **Train** page.")
    link("pages/1_Train.py", "Go to Train", ":material/fitness_center:")
    st.stop()

order = sorted(rows, key=lambda i: rows[i].get("updated") or 0, reverse=True)


def fmt(v) -> float | None:
    return round(float(v), 4) if isinstance(v, int | float) else None


table = pd.DataFrame([{
    "status": rows[i]["status"],
    "name": rows[i]["config"].get("name"),
    "model": f"{rows[i]['config'].get('arch', '?').upper()} {'VAE' if rows[i]['config'].get('variational') else 'AE'}",
    "latent": rows[i]["config"].get("latent_dim"),
    "dataset": rows[i]["config"].get("dataset"),
    "epochs": f"{rows[i].get('epochs_done') or 0}/{rows[i].get('epochs') or rows[i]['config'].get('epochs')}",
    "held-out recon": fmt(rows[i]["heldout"].get("recon")),
    "held-out KL": fmt(rows[i]["heldout"].get("kl")) if rows[i]["config"].get("variational") else None,
    "pixel MSE (held-out)": fmt((rows[i]["heldout"].get("mse01") or 0) / 784) if rows[i]["heldout"] else None,
    "train loss": fmt(rows[i]["train"].get("loss")),
    "run id": i,
} for i in order])
st.dataframe(table, hide_index=True, width="stretch")
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

c = st.columns(4)
if c[0].button("Open", key="runs_open", icon=":material/open_in_new:", disabled=not r.get("epochs_done"),
               help="Make this the run shown on the Reconstructions, Samples and Latent space pages."):
    select_run(pick)
    st.success(f"Opened {pick[:8]}: the viewing pages now show it.")
STORE_RESUMABLE = ("stopped", "failed", "running", "interrupted")  # run statuses in the store with a checkpoint
if c[1].button("Resume", key="runs_resume", icon=":material/play_arrow:", disabled=be is None or not (
        (is_job and jobs[pick].status in RESUMABLE) or (not is_job and status in STORE_RESUMABLE)),
        help="Continue from the last finished epoch (after a cancel, a failure or an app restart)."):
    try:
        jid = be.resume(pick) if is_job else be.submit(s.config(pick))
    except (JobError, FileNotFoundError) as e:
        st.error(f"Could not resume: {e}")
    else:
        select_run(jid)
        st.switch_page("pages/2_Live_run.py")
if c[2].button("Cancel", key="runs_cancel", icon=":material/stop:", disabled=not running,
               help="Stop the running job after its current step; the last finished epoch is kept."):
    try:
        be.cancel(pick)
        st.toast("Cancelling…")
    except JobError as e:
        st.error(str(e))
    st.rerun()
with c[3]:
    sure = st.checkbox("I'm sure", key="runs_sure", help="Deleting removes the weights, history and snapshots.")
    if st.button("Delete", key="runs_delete", icon=":material/delete:", disabled=not sure, type="secondary",
                 help="Forget this run and delete its checkpoint (a running job is cancelled first)."):
        try:
            if is_job and be is not None:
                be.delete(pick)  # a classroom student's delete only removes a shared run from their own list
            else:
                s.delete(pick)
        except JobError as e:
            st.error(str(e))
        else:
            if st.session_state.get(RUN_KEY) == pick:
                select_run(None)
            del st.session_state["runs_sure"]
            st.toast(f"Deleted {pick[:8]}.")
            st.rerun()

if r.get("message"):
    (st.error if status == "failed" else st.info)(r["message"])
download_button(pick, key="runs_export")
METRIC_NAMES = {"recon": "reconstruction / image (its own loss units)", "kl": "KL / image (nats)",
                "mse01": "squared pixel error / image (pixels in [0, 1])", "loss": "total loss / image",
                "posterior_std": "mean posterior σ (1 = prior, 0 = certain)",
                "denoised_mse01": "squared error / image after denoising",
                "noisy_mse01": "squared error / image of the noisy input"}
left, right = st.columns([2, 3])
with left:
    st.markdown("**Settings**")
    cfg = r["config"]
    st.dataframe(pd.DataFrame({"setting": list(cfg), "value": [str(v) for v in cfg.values()]}), hide_index=True,
                 width="stretch", height=260)
    if r["heldout"]:
        st.markdown("**Final held-out metrics** (1,000 digits never trained on)")
        st.dataframe(pd.DataFrame({"metric": [METRIC_NAMES.get(k, k) for k, v in r["heldout"].items()
                                              if not isinstance(v, list)],
                                   "value": [round(float(v), 4) for v in r["heldout"].values()
                                             if not isinstance(v, list)]}), hide_index=True, width="stretch")
with right:
    hist = s.history(pick)
    ch = epoch_chart(hist.get("epochs") or [], "recon")
    if ch is not None:
        st.markdown("**Reconstruction per epoch: training vs held-out** (a growing gap means overfitting)")
        st.altair_chart(ch, width="stretch")

limits_panel()  # classroom mode: the class limits (instructors can change them)
