"""The guided tour on the Lessons page: the lecture's order (engine.teaching.tour.TOUR), one step at a time. Each
step asks for a prediction first; nothing is revealed until the student commits; then the evidence (the lesson's
own renderer, from cached runs) and whether the prediction was right. State: st.session_state["tour_step"] and
"tour_pred_<step>" (the committed choice)."""

from __future__ import annotations

import streamlit as st

from engine.teaching import formulas as fm
from engine.teaching.applications import anomaly_specs
from engine.teaching.lessons import LESSONS
from engine.teaching.pack import ANOMALY_DIGIT
from engine.teaching.tour import TOUR, TourStep, verdict

from ..background import ensure_runs
from ..draw.plots import anomaly_histogram
from ..draw.vega import show_chart
from ..nav import link
from ..runs import anomaly_report_of
from .render import render
from .view import diff_tables, evidence, lesson_runs

STEP = "tour_step"


def _pred_key(step: TourStep) -> str:
    return f"tour_pred_{step.key}"


def _move(delta: int) -> None:
    st.session_state[STEP] = min(max(st.session_state.get(STEP, 0) + delta, 0), len(TOUR) - 1)


def predict(step: TourStep) -> int | None:
    """The prediction radio and its commit button; returns the committed choice (None until committed)."""
    committed = st.session_state.get(_pred_key(step))
    st.markdown(f"**Predict first.** {step.question}")
    choice = st.radio("Your prediction", list(range(len(step.choices))), format_func=lambda i: step.choices[i],
                      index=committed, key=f"tour_choice_{step.key}", disabled=committed is not None)
    if committed is None:
        if st.button("Commit my prediction", key=f"tour_commit_{step.key}", type="primary", disabled=choice is None):
            st.session_state[_pred_key(step)] = choice
            st.rerun()
        st.caption("The evidence stays hidden until you commit to a prediction.")
    return committed


def reveal(step: TourStep, committed: int, size: str) -> None:
    right, text = verdict(step, committed)
    (st.success if right else st.error)(text, icon=":material/check_circle:" if right else ":material/cancel:")
    st.markdown(f"**The evidence.** {step.reveal}")
    if step.key == "vae-idea":
        vae_idea()
    elif step.key == "applications":
        applications(size)
    else:
        lesson_evidence(step.lesson, size)


def lesson_evidence(key: str, size: str) -> None:
    lesson = LESSONS[key]
    runs = lesson_runs(key, size)
    if ensure_runs(runs.specs, f"tour_{key}", "this step's runs"):
        ev = evidence(key, size)
        if ev is not None:
            render(key, ev, size)
        diff_tables(lesson, size, expanded=False)
    st.caption(f"Lesson: {lesson.title} — open it from the Lessons mode for the full claim and notes.")


def vae_idea() -> None:
    a, b = st.columns(2)
    with a:
        st.latex(fm.marginal_likelihood())
        st.latex(fm.encoder_posterior())
        st.latex(fm.elbo())
    with b:
        st.latex(fm.reparameterization())
        st.latex(fm.reparam_gradients())
    st.markdown("The VAE theory page measures the gradient reaching μ and σ with autograd on a trained VAE, with and "
                "without the trick, next to the lecture's Bayesian slides.")
    link("vae_theory", "Open VAE theory", ":material/functions:")


def applications(size: str) -> None:
    specs = {"ae": anomaly_specs(size, ANOMALY_DIGIT)["ae"]}
    if ensure_runs(specs, "tour_applications", f"an AE trained without {ANOMALY_DIGIT}s"):
        r = anomaly_report_of(specs["ae"].run_id(), ANOMALY_DIGIT)
        st.metric(f"AUC: reconstruction error picks out the {ANOMALY_DIGIT}s", f"{r['auc']:.3f}",
                  help="1 = every anomaly scores above every normal digit; 0.5 = chance")
        show_chart(anomaly_histogram, r, "error", f"a {ANOMALY_DIGIT} (never trained on)", "other digits",
                   "Reconstruction error of held-out digits")
    link("applications", "Open Applications: compression, denoising, anomalies, generation", ":material/science:")


def tour(size: str) -> None:
    i = min(st.session_state.get(STEP, 0), len(TOUR) - 1)
    step = TOUR[i]
    st.progress((i + 1) / len(TOUR), text=f"Tour · step {i + 1} of {len(TOUR)}")
    st.header(step.title)
    committed = predict(step)
    if committed is not None:
        reveal(step, committed, size)
    back, _, nxt = st.columns([1, 4, 1])
    back.button("← Back", key="tour_back", on_click=_move, args=(-1,), disabled=i == 0, width="stretch")
    nxt.button("Next →", key="tour_next", on_click=_move, args=(1,), disabled=i == len(TOUR) - 1, width="stretch",
               type="primary" if committed is not None else "secondary")
