"""Streamlit helpers shared by the pages (the only package besides app.py/pages that imports streamlit)."""
