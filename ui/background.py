"""Training in the background from a page (pages never train in the script thread): launching one run,
or the set of runs a lesson needs, and progress bars that update while they run."""

from __future__ import annotations

import streamlit as st

from engine.core.config import RunConfig
from engine.jobs import ACTIVE, Backend, JobError
from engine.teaching.narration import fmt_seconds

from .access.auth import try_user_backend
from .backend import store
from .runs import submit

REFRESH_S = 1.5  # how often a progress bar polls its job
UNFINISHED = ("failed", "cancelled", "interrupted")


# ---- one run ------------------------------------------------------------------------------------
def launch(cfg: RunConfig, key: str) -> str | None:
    """Submit `cfg` to the background backend; remembers the job in session_state[key] and makes it the
    selected run. Returns the run id, or None after saying why not."""
    jid = submit(cfg)
    if jid is not None:
        st.session_state[key] = jid
    return jid


def job_progress(key: str) -> None:
    """Show the job remembered in session_state[key]: a progress bar that updates while it runs."""
    jid = st.session_state.get(key)
    if not jid:
        return
    be = try_user_backend()  # classroom mode: the job as this user sees it (another's reads as unknown)
    try:
        info = be.status(jid)
    except Exception:  # noqa: BLE001 - no backend or an unknown job: nothing to show
        return

    @st.fragment(run_every=REFRESH_S if not info.done else None)
    def _show() -> None:
        try:
            i = be.status(jid)
        except JobError as e:
            st.error(str(e))
            return
        text = f"{i.status} · epoch {i.epoch}/{i.epochs}" + (f" · {i.message}" if i.message else "")
        st.progress(i.progress, text=text)
        if i.done and not info.done:
            st.rerun()  # one full rerun: the analysis below appears

    _show()


def cancel_button(be: Backend, job_id: str, key: str, disabled: bool, help: str) -> None:
    """A Cancel button: the job stops after its current step, its last finished epoch is kept."""
    if st.button("Cancel", key=key, icon=":material/stop:", disabled=disabled, help=help):
        try:
            be.cancel(job_id)
            st.toast("Cancelling — the last finished epoch is kept.")
        except JobError as e:
            st.error(str(e))
        st.rerun()


# ---- the runs a lesson or an application needs ----------------------------------------------------
def _status(be, cfg: RunConfig) -> tuple[str, float, str]:
    """(status, fraction done, message) of the run `cfg` from the store and, if it is a job, the backend."""
    rid = cfg.run_id()
    if store().is_complete(rid):
        return "completed", 1.0, ""
    if be is not None:
        try:
            j = be.status(rid)
            eta = f" · ETA {fmt_seconds(j.eta_s)}" if j.eta_s and not j.done else ""
            return j.status, j.progress, (j.message or "") + eta
        except JobError:
            pass
    return "not trained", 0.0, ""


def ensure_runs(specs: dict[str, RunConfig], key: str, what: str = "these runs") -> bool:
    """Show the runs a lesson needs; a button trains the missing ones in the background (cached, so a class
    opening the same lesson trains each run once). Returns True once all are complete."""
    if not specs:
        return True
    s = store()
    missing = [c for c in specs.values() if not s.is_complete(c.run_id())]
    if not missing:
        return True
    be = try_user_backend()
    states = {role: _status(be, c) for role, c in specs.items()}
    if any(status in ACTIVE for status, _, _ in states.values()):
        _progress(specs)
        return False
    epochs = sum(c.epochs for c in missing)
    label = f"▶ Train {what} ({len(missing)} run{'s' if len(missing) > 1 else ''}, {epochs} epochs in all)"
    if st.button(label, key=f"{key}_go", type="primary", disabled=be is None,
                 help="Runs in the background and is stored: next time (and for everyone sharing this "
                      "server) it loads instantly."):
        if submit_all(be, missing):
            st.rerun()
        return False
    for role, (status, _, msg) in states.items():
        if status in UNFINISHED:
            st.warning(f"Run '{role}' did not finish: {msg or 'press the button to resume it'}.")
    with st.expander("Runs this needs", expanded=False):
        for role, c in specs.items():
            st.markdown(f"- **{role}** — {c.short()} · `{c.run_id()[:8]}` · {states[role][0]}")
    return False


def _progress(specs: dict[str, RunConfig]) -> None:
    @st.fragment(run_every=REFRESH_S)
    def poll() -> None:
        be = try_user_backend()
        states = [(role, *_status(be, c)) for role, c in specs.items()]
        for role, status, frac, msg in states:
            st.progress(frac, text=f"{role}: {status} {msg}".strip())
        if all(s == "completed" for _, s, _, _ in states) or any(s in UNFINISHED for _, s, _, _ in states):
            st.rerun()  # the whole page: show the evidence, or the button to resume

    st.info("Training in the background — the evidence appears here when every run is done. "
            "You can watch a run on the **Live run** page.")
    poll()


def submit_all(be, cfgs) -> bool:
    """Submit every config to the backend; on a refusal show one line and say so (False)."""
    try:
        for c in cfgs:
            be.submit(c)
    except (JobError, OSError) as e:
        st.error(f"Could not start training: {e}")
        return False
    return True
