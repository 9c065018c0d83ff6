"""The app's pages in one table: file, title, icon, URL and a one-line description, grouped in the sidebar's
sections. app.py hands `sections()` to st.navigation; pages link to each other with `link(key)` and `go(key)`.
No engine import: the router and Home stay light.

Each section's scripts live in a folder of pages/ (pages/learn/home.py, ...), none in pages/ itself. Streamlit
decides once per server process, before any script runs, whether `pages/` exists; if it does, the first script
run of a fresh server goes through its automatic multipage mode, which lists and runs every pages/*.py. With no
script directly in pages/, that list is app.py alone: the sidebar never shows it, and no page can run without
the router (and its login gate) in front of it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

PAGES_DIR = Path(__file__).resolve().parent.parent / "pages"
APP_ICON = ":material/neurology:"


@dataclass(frozen=True)
class PageSpec:
    file: str  # in pages/<its section's folder>/
    title: str  # the sidebar label
    icon: str  # a Material icon (bundled with Streamlit, so it renders offline)
    url_path: str  # "" for Home (served at /)
    blurb: str  # what a student does there (Home lists it)


SECTIONS: dict[str, dict[str, PageSpec]] = {
    "Learn": {
        "home": PageSpec("home.py", "Home", ":material/home:", "",
                         "what an AE and a VAE are, where everything is"),
        "lessons": PageSpec("lessons.py", "Lessons", ":material/school:", "Lessons",
                            "guided experiments that follow the lecture"),
        "vae_theory": PageSpec("vae_theory.py", "VAE theory", ":material/functions:", "VAE_theory",
                               "the lecture's formulas, each beside a measurement on your VAE"),
    },
    "Train & watch": {
        "train": PageSpec("train.py", "Train", ":material/fitness_center:", "Train",
                          "pick a lecture preset or build your own AE/VAE, then launch it in the background"),
        "live_run": PageSpec("live_run.py", "Live run", ":material/monitoring:", "Live_run",
                             "watch reconstruction vs KL while it trains; steer β and the learning rate"),
        "runs": PageSpec("runs.py", "Runs", ":material/folder_open:", "Runs",
                         "every run: status, settings, results; open, resume, cancel, delete"),
        "class_board": PageSpec("class_board.py", "Class", ":material/groups:", "Class",
                                "the class's runs on one board and the experiment your instructor assigns"),
    },
    "Inspect": {
        "reconstructions": PageSpec("reconstructions.py", "Reconstructions", ":material/compare:", "Reconstructions",
                                    "originals vs reconstructions over epochs; MLP vs CNN side by side"),
        "samples": PageSpec("samples.py", "Samples", ":material/casino:", "Samples",
                            "digits decoded from random z: over epochs and fresh on demand"),
        "latent_space": PageSpec("latent_space.py", "Latent space", ":material/scatter_plot:", "Latent_space",
                                 "the 2-D map of codes, the decoder over the plane, traversals"),
        "compare": PageSpec("compare.py", "Compare", ":material/balance:", "Compare", "runs side by side"),
    },
    "Beyond": {
        "applications": PageSpec("applications.py", "Applications", ":material/science:", "Applications",
                                 "what autoencoders are used for, hands on"),
        "ising": PageSpec("ising.py", "Ising", ":material/grid_on:", "Ising",
                          "autoencoders on Ising-model spin configurations"),
        "your_data": PageSpec("your_data.py", "Your data", ":material/upload:", "Your_data",
                              "train on images you upload"),
        "graph_ae": PageSpec("graph_ae.py", "Graph AE", ":material/hub:", "Graph_AE", "an autoencoder for graphs"),
    },
}
FOLDERS = {"Learn": "learn", "Train & watch": "train", "Inspect": "inspect", "Beyond": "beyond"}  # in pages/
PAGES: dict[str, PageSpec] = {key: spec for section in SECTIONS.values() for key, spec in section.items()}
PATHS: dict[str, Path] = {key: PAGES_DIR / FOLDERS[name] / spec.file
                          for name, section in SECTIONS.items() for key, spec in section.items()}


def page(key: str) -> st.Page:
    """The st.Page of page `key` (equal to the one app.py registers, so links and switch_page find it)."""
    s = PAGES[key]
    return st.Page(PATHS[key], title=s.title, icon=s.icon, url_path=s.url_path or None,
                   default=not s.url_path)


def sections() -> dict[str, list[st.Page]]:
    """The sidebar: section name -> its pages, for st.navigation."""
    return {name: [page(key) for key in keys] for name, keys in SECTIONS.items()}


def link(key: str, label: str | None = None, icon: str | None = None) -> None:
    """A link to page `key`, labelled with its title and icon unless told otherwise."""
    st.page_link(page(key), label=label, icon=icon)


def go(key: str) -> None:
    """Open page `key` now (ends this script run)."""
    st.switch_page(page(key))
