"""The sidebar is the router's, from the first request a fresh server gets (headless Chromium).

Streamlit decides once per process, before any script runs, whether `pages/` exists; if it does, the first script
run goes through its automatic multipage mode, which lists every pages/*.py and can run one of them directly.
The page scripts therefore live in section folders (ui/nav.py). Each case starts a cold server and reads the
navigation messages the browser gets (ForwardMsg, decoded with streamlit.proto), and what its sidebar shows.
"""

from __future__ import annotations

import os

import pytest
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from test_e2e import streamlit_app

pytestmark = pytest.mark.e2e

TITLES = ["Home", "Lessons", "VAE theory", "Train", "Live run", "Runs", "Reconstructions", "Samples",
          "Latent space", "Compare", "Applications", "Ising", "Your data", "Graph AE"]
SECTIONS = ["Learn", "Train & watch", "Inspect", "Beyond"]


def _open(browser, url: str) -> tuple[object, list[tuple[str, object]]]:
    """A new page at `url`; the navigation and page-not-found messages it receives, in order."""
    page, seen = browser.new_page(viewport={"width": 1280, "height": 900}), []

    def on_ws(ws):
        def frame(payload):
            if not isinstance(payload, bytes | bytearray):
                return
            msg = ForwardMsg()
            msg.ParseFromString(bytes(payload))
            kind = msg.WhichOneof("type")
            if kind == "navigation":
                seen.append((kind, [p.page_name for p in msg.navigation.app_pages]))
            elif kind == "page_not_found":
                seen.append((kind, msg.page_not_found.page_name))

        ws.on("framereceived", frame)

    page.on("websocket", on_ws)
    page.goto(url)
    return page, seen


def _shows_the_router_sidebar(page) -> None:
    nav = page.get_by_test_id("stSidebarNav")
    nav.wait_for(timeout=120_000)
    text = nav.inner_text()
    for name in SECTIONS + ["Latent space", "Graph AE"]:
        assert name in text, text
    for automatic in ("app", "latent space", "graph ae"):  # the automatic list: lower-case file names
        assert automatic not in text.splitlines(), text


def _only_the_router_lists_pages(seen: list) -> None:
    lists = [names for kind, names in seen if kind == "navigation"]
    assert lists and set(TITLES) <= set(lists[-1]), seen
    for names in lists:  # Streamlit's own list may only ever be app.py alone (one page: not drawn)
        assert names == ["app"] or set(TITLES) <= set(names), seen


@pytest.mark.parametrize("first", ["", "Latent_space", "latent_space"])
def test_a_cold_server_shows_only_the_router_sidebar(tmp_path, chromium, first):
    """First visit (/), a deep link as the very first request, and the automatic mode's own URL for a page script
    (`/latent_space`, which would run pages/latent_space.py without the router's login gate): each on a fresh
    server, then a second session."""
    env = {**os.environ, "AE_LAB_CHECKPOINTS": str(tmp_path / "checkpoints")}
    with streamlit_app(tmp_path, env) as url:
        page, seen = _open(chromium, f"{url}/{first}")
        _shows_the_router_sidebar(page)
        heading = "Latent space" if first == "Latent_space" else "Autoencoders & VAEs"  # a wrong URL: Home
        page.get_by_role("heading", name=heading).first.wait_for(timeout=120_000)
        page.wait_for_timeout(1000)  # let any late message arrive
        _only_the_router_lists_pages(seen)
        if not first:
            assert ("page_not_found", "") not in seen, seen
        page.close()

        second, seen = _open(chromium, f"{url}/Runs")  # a second session
        _shows_the_router_sidebar(second)
        second.get_by_role("heading", name="Runs").first.wait_for(timeout=120_000)
        _only_the_router_lists_pages(seen)
        assert ("page_not_found", "") not in seen, seen  # the process is past Streamlit's first run
