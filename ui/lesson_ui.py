"""Streamlit helpers for the Lessons, Applications and Compare pages: training the runs a page needs in the
background (through the job backend) with progress, and the small Altair charts those pages draw."""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd
import streamlit as st

from engine.core.config import RunConfig
from engine.jobs import JobError
from ui.common import fmt_seconds, store, try_backend

REFRESH_S = 1.5


def _status(be, cfg: RunConfig) -> tuple[str, float, str]:
    """(status, fraction done, message) of the run `cfg` from the store and, if it is a job, the backend."""
    rid = cfg.run_id()
    if store().is_complete(rid):
        return "completed", 1.0, ""
    if be is not None:
        try:
            j = be.status(rid)
            frac = j.step / j.steps_total if j.steps_total else (j.epoch / j.epochs if j.epochs else 0.0)
            eta = f" · ETA {fmt_seconds(j.eta_s)}" if j.eta_s and not j.done else ""
            return j.status, min(max(frac, 0.0), 1.0), (j.message or "") + eta
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
    be = try_backend()
    states = {role: _status(be, c) for role, c in specs.items()}
    active = any(st_ in ("queued", "running") for st_, _, _ in states.values())
    epochs = sum(c.epochs for c in missing)
    if not active:
        label = f"▶ Train {what} ({len(missing)} run{'s' if len(missing) > 1 else ''}, {epochs} epochs in all)"
        if st.button(label, key=f"{key}_go", type="primary", disabled=be is None,
                     help="Runs in the background and is stored: next time (and for everyone sharing this "
                          "server) it loads instantly."):
            try:
                for c in missing:
                    be.submit(c)
            except (JobError, OSError) as e:
                st.error(f"Could not start training: {e}")
                return False
            st.rerun()
        failed = [(r, m) for r, (st_, _, m) in states.items() if st_ in ("failed", "cancelled", "interrupted")]
        for role, msg in failed:
            st.warning(f"Run '{role}' did not finish: {msg or 'press the button to resume it'}.")
        with st.expander("Runs this needs", expanded=False):
            for role, c in specs.items():
                st.markdown(f"- **{role}** — {c.short()} · `{c.run_id()[:8]}` · {states[role][0]}")
        return False
    _progress(specs, key)
    return False


def _progress(specs: dict[str, RunConfig], key: str) -> None:
    @st.fragment(run_every=REFRESH_S)
    def poll() -> None:
        be = try_backend()
        done = 0
        for role, c in specs.items():
            status, frac, msg = _status(be, c)
            done += status == "completed"
            st.progress(frac, text=f"{role}: {status} {msg}".strip())
        if done == len(specs):
            st.rerun()  # the whole page: show the evidence
        if any(_status(be, c)[0] in ("failed", "cancelled", "interrupted") for c in specs.values()):
            st.rerun()

    st.info("Training in the background — the evidence appears here when every run is done. "
            "You can watch a run on the **Live run** page.")
    poll()


# ---- charts ----------------------------------------------------------------------------------------
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
