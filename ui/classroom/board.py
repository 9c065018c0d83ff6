"""The Class page's parts and the Train page's class-experiment hooks.

The data come from engine.jobs.board (what each viewer may see) and engine.jobs.experiments (the sweep, who has
which value); this module draws them: the live board (instructors: a table with names and run ids; everyone: the
rate–distortion plane, a student's own points ringed), the experiment's curve beside the lecture's claim, the
post/close controls, and on the Train page the assigned run, prefilled and marked "class experiment".
Local mode (no classroom): the single user is the instructor, so the page works as a one-person class.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from engine.core.config import ConfigError, RunConfig
from engine.core.presets import PRESETS
from engine.jobs import JobError
from engine.jobs.board import class_board, experiment_curve, remember_name, tension
from engine.jobs.experiments import SETTINGS, Experiment, ExperimentError, Experiments
from engine.jobs.identity import User
from engine.teaching.lessons import LESSONS

from ..access.auth import current_user, try_user_backend
from ..access.mode import classroom_enabled, oidc_configured
from ..backend import store
from ..runs import submit

LIVE_S = 4  # seconds between redraws of the live board
FILLED = "class_exp_filled"  # session key: the experiment whose value the Train form was filled with
EXAMPLES = {"beta": "0, 0.5, 1, 2, 4, 8, 16", "latent_dim": "2, 4, 8, 16, 32", "lr": "0.0001, 0.001, 0.01",
            "seed": "0, 1, 2, 3, 4"}
WHAT = {"beta": "β tension", "latent_dim": "code size", "lr": "learning rate", "seed": "seed-to-seed spread"}


def viewer() -> User:
    """The signed-in user; their display name is kept for the instructors' board (shown beside the identity)."""
    name, role = current_user()  # local mode: the OS user, instructor
    shown = st.user.get("name") if classroom_enabled() and oidc_configured() else None
    if isinstance(shown, str):
        remember_name(store(), name, shown)
    return User(name, role)


def experiments() -> Experiments:
    return Experiments(store().root)


def current() -> Experiment | None:
    """The open experiment, or None (after saying why, if the stored experiments cannot be read)."""
    try:
        return experiments().current()
    except ExperimentError as e:
        st.error(str(e))
        return None


# ---- the board ------------------------------------------------------------------------------------------------
def rows_for(user: User, exp: Experiment | None) -> list[dict]:
    be = try_user_backend()
    jobs = []
    if be is not None:
        try:
            jobs = be.jobs()  # a student's backend lists only their own jobs
        except JobError:
            jobs = []
    return class_board(store(), user, jobs, experiment=exp)


def _beta_label(b: float | None) -> str:
    return "AE (no β)" if b is None else f"β = {b:g}"


def _field(name: str, kind: str, **more) -> dict:
    return {"field": name, "type": kind, **more}


def _tooltip(rows: list[dict], names: tuple[str, ...]) -> list[dict]:
    """Tooltip fields present in `rows`, numbers as numbers."""
    have = set(rows[0]) if rows else set()
    return [_field(n, "quantitative" if any(isinstance(r.get(n), int | float) and not isinstance(r.get(n), bool)
                                            for r in rows) else "nominal") for n in names if n in have]


def plane_chart(rows: list[dict], ring_mine: bool) -> dict | None:
    """Rate (held-out KL) against distortion (held-out pixel error), one point per run with an epoch done:
    colour β, shape the model; with `ring_mine`, the viewer's own runs ringed. A Vega-Lite spec as a dict: the
    live board redraws it every few seconds, and Altair's validation would cost the server ~0.4 s each time."""
    pts = [{**r, "colour": _beta_label(r["β"]), "model": f"{r['architecture']} {r['kind']}",
            "whose": "yours" if r["mine"] else "the class"} for r in rows if r["pixel error"] is not None]
    if not pts:
        return None
    betas = sorted({r["β"] for r in pts if r["β"] is not None})
    order = [_beta_label(b) for b in betas] + (["AE (no β)"] if any(r["β"] is None for r in pts) else [])
    tips = _tooltip(pts, ("students", "status", "epochs", "model", "colour", "latent size", "held-out recon",
                          "held-out KL", "pixel error", "experiment", "run id"))
    xy = {"x": _field("held-out KL", "quantitative", title="rate: held-out KL (nats per image)",
                      scale={"zero": True}),
          "y": _field("pixel error", "quantitative", title="distortion: held-out squared pixel error",
                      scale={"zero": False})}
    layers = [{"mark": {"type": "point", "filled": True, "size": 110, "opacity": 0.85},
               "encoding": {**xy, "tooltip": tips,
                            "color": _field("colour", "nominal", title="β", sort=order, scale={"scheme": "viridis"},
                                            legend={"labelLimit": 200}),
                            "shape": _field("model", "nominal", title="model")}}]
    if ring_mine and any(r["mine"] for r in pts):
        layers.append({"transform": [{"filter": "datum.whose === 'yours'"}],
                       "mark": {"type": "point", "shape": "circle", "size": 420, "filled": False, "strokeWidth": 2.5,
                                "color": "#d62728"},
                       "encoding": {**xy, "tooltip": tips}})
    return {"title": "The class's rate–distortion plane", "height": 380, "data": {"values": pts}, "layer": layers}


def table(rows: list[dict]) -> pd.DataFrame:
    drop = {"mine", "epochs done"}
    return pd.DataFrame([{k: v for k, v in r.items() if k not in drop} for r in rows])


def live_board(user: User, exp: Experiment | None) -> None:
    """The board, redrawn every LIVE_S seconds (st.fragment) so runs appear and move as they finish epochs."""

    @st.fragment(run_every=LIVE_S)
    def draw() -> None:
        rows = rows_for(user, exp)
        if not rows:
            st.info("No runs in the class yet: they appear here as soon as someone launches one.")
            return
        chart = plane_chart(rows, ring_mine=not user.instructor)
        if chart is not None:
            st.vega_lite_chart(chart, width="stretch")
        st.caption("One point per run with an epoch done, coloured by β and shaped by model. Rate is the KL "
                   "(an AE has none: it sits at 0); distortion is the squared pixel error, comparable across "
                   "models (each run's own reconstruction loss is in the table).")
        if user.instructor:
            st.dataframe(table(rows), hide_index=True, width="stretch")
        else:
            mine = sum(r["mine"] for r in rows)
            st.caption(f"{len(rows)} runs in the class; {mine} of them yours (ringed in red). The others are "
                       "anonymous: no names, no run ids, nothing to open.")
            own = [r for r in rows if r["mine"]]
            if own:
                st.dataframe(table(own), hide_index=True, width="stretch")

    draw()


# ---- the experiment ---------------------------------------------------------------------------------------------
def curve_charts(exp: Experiment, points: list[dict]) -> list[dict]:
    """The held-out KL (rate) and recon (distortion) against the swept value, one small chart each (Vega-Lite
    dicts, redrawn live); [] before any value has an epoch done."""
    done = [p for p in points if p["kl"] is not None]
    if not done:
        return []
    x = _field("value", "ordinal", title=SETTINGS[exp.setting].label, axis={"labelAngle": 0})
    tips = _tooltip(done, ("label", "kl", "recon", "status", "students", "epochs done"))
    return [{"title": title, "height": 220, "data": {"values": done},
             "mark": {"type": "line", "point": {"color": colour}, "color": colour},
             "encoding": {"x": x, "y": _field(key, "quantitative", title="nats / image", scale={"zero": False}),
                          "tooltip": tips}}
            for key, title, colour in (("kl", "held-out KL (rate)", "#1f77b4"),
                                       ("recon", "held-out recon (distortion)", "#d62728"))]


def claim(exp: Experiment, points: list[dict]) -> None:
    """The lecture's claim beside the class's curve, and how far the finished points bear it out."""
    if exp.setting != "beta":
        st.markdown(f"**What to look for** ({WHAT[exp.setting]}): how the held-out recon and KL move with "
                    f"{SETTINGS[exp.setting].label}.")
        return
    st.markdown(f"**The lecture's claim — the β tension.** {LESSONS['beta'].claim}")
    st.latex(r"\mathcal{L} = \underbrace{\mathrm{recon}}_{\text{distortion}} + \beta\,"
             r"\underbrace{D_{KL}\big(q(z|x)\,\|\,\mathcal{N}(0, I)\big)}_{\text{rate}}")
    t = tension(points)
    if t["points"] < 2:
        st.caption(f"{t['points']} of {len(points)} values finished: the class's curve says nothing yet.")
        return
    agree = t["kl_down"] == t["recon_up"] == t["steps"]
    st.markdown(f"**The class's runs so far** ({t['points']} of {len(points)} values finished): from each value to the "
                f"next larger β the KL fell in {t['kl_down']} of {t['steps']} steps and the recon rose in "
                f"{t['recon_up']} of {t['steps']}"
                + (" — as the lecture says." if agree else " — not every step as the lecture says (one run per "
                   "value: a short run or a seed can move a point)."))


def experiment_panel(user: User, exp: Experiment) -> None:
    """The open experiment: what it sweeps, who has which value (counts only), its curve and the claim."""
    st.subheader(f"Class experiment: {exp.title}")
    vals = ", ".join(f"{exp.value(i):g}" for i in range(len(exp.values)))
    limit = f", first {exp.train_limit:,} images" if exp.train_limit else ""
    epochs = f"{exp.epochs} epoch{'s' if exp.epochs > 1 else ''}"
    st.markdown(f"{SETTINGS[exp.setting].label} ∈ {{{vals}}} on **{exp.preset}**, {epochs}{limit}. "
                "Each student is given one value, balanced across the class; identical values share one training.")
    if not user.instructor:
        mine = exp.assigned.get(user.name)
        if mine is None:
            st.info("Open the **Train** page to be given your value.")
        else:
            st.success(f"Your value: **{exp.label(mine)}**. The Train page has it filled in, marked "
                       "\"class experiment\".")
    live_curve(exp)
    if user.instructor:
        c1, c2 = st.columns(2)
        if c1.button("Train every value myself", icon=":material/play_arrow:", key="exp_all",
                     help="Launches each value's run as yours (a lecture demo, or a class of one)."):
            launch_all(user, exp)
        if c2.button("Close the experiment", icon=":material/lock:", key="exp_close",
                     help="No new students or runs join it; its curve stays."):
            try:
                experiments().close(user, exp.id)
                st.rerun()
            except ExperimentError as e:
                st.error(str(e))


def live_curve(exp: Experiment) -> None:
    """The experiment's curve beside the lecture's claim, redrawn as the class's runs finish epochs."""

    @st.fragment(run_every=LIVE_S)
    def draw() -> None:
        try:
            e = experiments().get(exp.id)  # the latest assignments and runs
        except ExperimentError as err:
            st.error(str(err))
            return
        points = experiment_curve(store(), e)
        left, right = st.columns([3, 2])
        with left:
            charts = curve_charts(e, points)
            if not charts:
                st.info("The curve fills in as the class's runs finish their epochs.")
            for col, chart in zip(st.columns(len(charts)) if charts else [], charts, strict=True):
                col.vega_lite_chart(chart, width="stretch")
            cols = ["label", "students", "launched", "status", "epochs done", "recon", "kl"]
            st.dataframe(pd.DataFrame(points)[cols], hide_index=True, width="stretch")
        with right:
            claim(e, points)

    draw()


def launch_all(user: User, exp: Experiment) -> None:
    started = 0
    for i in range(len(exp.values)):
        cfg = exp.config(i)
        if submit(cfg, quiet=True) is not None:
            try:
                experiments().record(user, exp.id, cfg.run_id())
                started += 1
            except ExperimentError as e:
                st.error(str(e))
                return
    st.success(f"{started} of {len(exp.values)} runs launched or loaded from the cache.")


def post_form(user: User) -> None:
    """Instructors post a sweep; every field is checked by the engine (one line when refused)."""
    with st.form("exp_post"):
        st.markdown("**Post a class experiment**")
        title = st.text_input("Title", "The β tension", max_chars=120)
        c1, c2 = st.columns(2)
        preset_name = c1.selectbox("Preset", list(PRESETS), index=list(PRESETS).index("seed-vae"))
        setting = c2.selectbox("Setting to sweep", list(SETTINGS), format_func=lambda s: SETTINGS[s].label)
        values = st.text_input("Values (comma-separated)", EXAMPLES["beta"], max_chars=400,
                               help="e.g. " + "; ".join(f"{SETTINGS[k].label}: {v}" for k, v in EXAMPLES.items()))
        c3, c4 = st.columns(2)
        epochs = c3.number_input("Epochs", 1, 1000, 10)
        limit = c4.number_input("Training images (0 = all)", 0, 10_000_000, 0, step=500)
        if st.form_submit_button("Post the experiment", type="primary"):
            try:
                experiments().post(user, title, preset_name, setting, values, int(epochs), int(limit) or None)
                st.rerun()
            except (ExperimentError, ConfigError) as e:
                st.error(str(e))


# ---- the Train page's hooks -------------------------------------------------------------------------------------
def assignment() -> tuple[Experiment, int] | None:
    """(the open experiment, the student's value index), giving them one on their first visit; None for
    instructors, without an open experiment, or after saying why one could not be given."""
    exp = current()
    user = viewer()
    if exp is None or user.instructor:
        return None
    try:
        return exp, experiments().assign(user, exp.id)
    except ExperimentError as e:
        st.warning(str(e))
        return None


def prefill() -> tuple[str, dict] | None:
    """(preset, settings) to fill the Train form with, once per experiment and session; else None."""
    got = assignment()
    if got is None or st.session_state.get(FILLED) == got[0].id:
        return None
    exp, i = got
    st.session_state[FILLED] = exp.id
    return exp.preset, {"epochs": exp.epochs, "train_limit": exp.train_limit or 0, exp.setting: exp.value(i)}


def mark(cfg: RunConfig | None) -> None:
    """Say on the Train page whether the form holds the student's class-experiment run."""
    got = assignment()
    if got is None:
        return
    exp, i = got
    if cfg is not None and cfg.run_id() == exp.config(i).run_id():
        st.info(f"**Class experiment** · {exp.title}: your value is **{exp.label(i)}** (balanced across the "
                "class). Launch it; the Class page draws the class's curve as the runs finish.",
                icon=":material/groups:")
    else:
        st.warning(f"These settings are not your class experiment's ({exp.label(i)} on {exp.preset}, "
                   f"{exp.epochs} epochs): a run like this is yours, not part of the class's curve.",
                   icon=":material/groups:")
        if st.button("Back to the class experiment", key="exp_refill"):
            st.session_state.pop(FILLED, None)
            st.rerun()


def record_launch(cfg: RunConfig) -> None:
    """After a launch: a run that is the user's class-experiment run (an instructor: any value's) joins it."""
    exp = current()
    if exp is None or cfg.run_id() not in exp.run_ids():
        return
    user = viewer()
    if not user.instructor and exp.assigned.get(user.name) is None:
        return
    try:
        experiments().record(user, exp.id, cfg.run_id())
    except ExperimentError as e:
        st.warning(str(e))
