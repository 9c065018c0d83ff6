"""The AE & VAE lab (`streamlit run app.py`): the router. It sets up the page, lets a classroom user log in,
and runs the page the URL asks for (pages/, listed in ui/nav.py) under Streamlit's own navigation.

In classroom mode an unexpected error shows one line, never a stack trace: `client.showErrorDetails` is set to
"none" (also for errors in auto-refreshing fragments), and the router catches what a page raises, shows one
line and logs the traceback on the server.

It imports neither torch nor the engine, so Home is drawn at once; the first other page loads them under a spinner
("Loading <page>…", shown once that has taken 0.5 s) so a page never sits blank while PyTorch loads."""

import logging
import os
import sys

# Before anything imports torch in this process: OpenMP threads that spin while they wait made torch calls on the
# pages 10-100× slower whenever the cores are shared (sessions, training jobs, browsers): 30 σ-ellipses of the
# Latent space page took 1.4 s instead of 0.013 s. Let them sleep instead, as the job processes do.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import streamlit as st  # noqa: E402 - after the OpenMP setting above

from ui.access.mode import classroom_enabled
from ui.nav import APP_ICON, sections

st.set_page_config(page_title="AE & VAE lab", page_icon=APP_ICON, layout="wide")
classroom = classroom_enabled()  # stops here, with one line, on a setting it cannot read (fails closed)
if classroom:  # the login gate and "signed in as" (classroom mode only: it loads the engine)
    st.set_option("client.showErrorDetails", "none")
    from ui.access.auth import sidebar_user

    sidebar_user()
page = st.navigation(sections(), expanded=True)
st.set_page_config(page_title=f"{page.title} · AE & VAE lab", page_icon=page.icon)
if page.url_path and "ui.runs" not in sys.modules:  # the first page after Home in this server process
    # PyTorch and the engine load here, under a spinner, not inside the page: a page that ends with st.stop()
    # ends its run's messages there, the spinner's own removal too, and the spinner stayed on the page.
    with st.spinner(f"Loading {page.title}…"):
        import ui.draw.charts  # noqa: F401 - altair, pandas
        import ui.runs  # noqa: F401 - torch, the engine, the job backend
try:
    page.run()
except Exception as e:  # noqa: BLE001 - st.stop / st.rerun are BaseExceptions and pass through
    if not classroom:
        raise  # local mode: Streamlit shows the error with its details
    logging.getLogger("ae_lab").exception("page %s failed", page.title)
    st.error(f"Something went wrong on this page ({type(e).__name__}). It was logged for your instructor: "
             "reload the page, or try other settings.", icon=":material/error:")
