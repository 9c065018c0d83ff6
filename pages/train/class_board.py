"""Class: the class's runs on one board (live), and the experiment an instructor assigns.

Instructors see every student's runs with names and run ids, post a sweep and close it; students see the class's
points without names or ids, their own ringed, and the value they were given. Local mode: you are the instructor
of a class of one."""

from __future__ import annotations

import streamlit as st

from ui.access.auth import limits_panel
from ui.access.mode import classroom_enabled
from ui.classroom.board import current, experiment_panel, live_board, post_form, viewer
from ui.nav import link

st.title("Class")
user = viewer()  # classroom mode: stops at the login screen until signed in
if user.instructor:
    st.caption("Every student's runs, live, and the experiment you assign: post a sweep over one setting and each "
               "student is given one value, balanced across the class." +
               ("" if classroom_enabled() else " (Local mode: you are the instructor of a class of one.)"))
else:
    st.caption("The class's runs as anonymous points (yours ringed), and the experiment your instructor assigned.")

exp = current()
if exp is not None:
    experiment_panel(user, exp)
    if not user.instructor:
        link("train", "Train your value")
elif user.instructor:
    post_form(user)
else:
    st.info("No class experiment is open right now.")

st.subheader("The class's runs")
live_board(user, exp)
if user.instructor:
    limits_panel()
