"""Home page (placeholder until the dashboard lands)."""

import streamlit as st

st.set_page_config(page_title="AE & VAE lab", page_icon="🧠", layout="wide")
st.title("Autoencoders & VAEs, by training them")
