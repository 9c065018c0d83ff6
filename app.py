"""The AE & VAE lab (`streamlit run app.py`): the router. It sets up the page, lets a classroom user log in,
and runs the page the URL asks for (app_pages/, listed in ui/nav.py) under Streamlit's own navigation.

It imports neither torch nor the engine, so Home is drawn at once; pages load what they need."""

import streamlit as st

from ui.classroom import classroom_enabled
from ui.nav import APP_ICON, sections

st.set_page_config(page_title="AE & VAE lab", page_icon=APP_ICON, layout="wide")
if classroom_enabled():  # the login gate and "signed in as" (classroom mode only: it loads the engine)
    from ui.auth import sidebar_user

    sidebar_user()
page = st.navigation(sections(), expanded=True)
st.set_page_config(page_title=f"{page.title} · AE & VAE lab", page_icon=page.icon)
page.run()
