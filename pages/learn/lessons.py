"""Lessons: every claim of the lecture one click away — the claim, what differs between the runs compared, the
evidence on real digits (mean ± seed spread where it is close), the lecture's formula, and why. A Tour mode walks
through the lecture in its order, asking for a prediction before each piece of evidence."""

from __future__ import annotations

import streamlit as st

from engine.teaching.lessons import LESSONS
from ui.background import ensure_runs
from ui.lessons.demo_pack import prepare_panel
from ui.lessons.render import render
from ui.lessons.tour import tour
from ui.lessons.view import diff_tables, evidence, lesson_runs, lesson_size

st.title("Lessons")
size = lesson_size()
with st.sidebar:
    mode = st.radio("Mode", ["Lessons", "Tour"], horizontal=True, key="lesson_mode",
                    help="Tour: the lecture's story in its order; predict first, then see the evidence.")
    if mode == "Lessons":
        key = st.radio("Lesson", list(LESSONS), format_func=lambda k: LESSONS[k].title, key="lesson")
    prepare_panel(size)

if mode == "Tour":
    st.caption("The lecture in its order. At each step, predict what happens — the evidence (real runs on held-out "
               "MNIST digits) appears once you have committed.")
    tour(size)
    st.stop()

st.caption("Each lesson states one claim of the lecture, trains (or loads) the small runs that show it, and draws "
           "the evidence on real held-out MNIST digits. Runs are cached: once anyone trained them, they load at once.")
lesson = LESSONS[key]
st.header(lesson.title)
st.info(f"**Claim.** {lesson.claim}")
if lesson.note:
    st.caption(lesson.note)
diff_tables(lesson, size)
runs = lesson_runs(key, size)
if ensure_runs(runs.specs, f"lesson_{key}", "this lesson's runs"):
    ev = evidence(key, size)
    if ev is not None:
        render(key, ev, size)
st.success(f"**Why.** {lesson.why}")
