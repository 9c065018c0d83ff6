"""Shared by the latent explorer's browser tests (tests/test_e2e_latent.py) and its benchmark
(scripts/bench_latent_browser.py): the explorer's test app served on 127.0.0.1, Debian's Chromium, and a tally of
the websocket's traffic (BackMsgs the browser sends, decoded with streamlit.proto; bytes it receives)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from test_e2e import CHROMIUM, CHROMIUM_ARGS, streamlit_app

ROOT = Path(__file__).resolve().parent.parent
APP = "tests/apps/latent_explorer_app.py"


@contextlib.contextmanager
def explorer_app(preset: str, log_dir: Path) -> Iterator[str]:
    """The explorer's test app for `preset` on a free localhost port; yields its URL and stops it afterwards."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "AE_LAB_EXPLORER_PRESET": preset}
    with streamlit_app(log_dir, env, script=APP) as url:
        yield url


@dataclass
class Wire:
    """What crossed the websocket: the kinds of BackMsg sent (rerun_script, ...) and the bytes received."""

    sent: list[str] = field(default_factory=list)
    received: int = 0

    def attach(self, page) -> None:
        from streamlit.proto.BackMsg_pb2 import BackMsg

        def sent(payload) -> None:
            if isinstance(payload, bytes | bytearray):
                self.sent.append(BackMsg.FromString(bytes(payload)).WhichOneof("type") or "")

        def received(payload) -> None:
            self.received += len(payload)

        page.on("websocket", lambda ws: (ws.on("framesent", sent), ws.on("framereceived", received)))

    def reruns(self) -> int:
        return self.sent.count("rerun_script")


@contextlib.contextmanager
def chromium(width: int = 1300, height: int = 2000):
    """A page in Debian's Chromium (this machine is offline: no downloaded browsers)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()


def ready(page, timeout_s: float = 120) -> None:
    """Wait until every view of the test app (map, pad, sweep, path) has its model and has drawn. (Playwright's
    sync API delivers websocket events only inside its own calls: wait with page.wait_for_timeout, not sleep.)"""
    for role in ("map", "board", "sweep", "path"):
        page.wait_for_selector(f"canvas[data-role={role}]", timeout=timeout_s * 1000)
    page.wait_for_selector("[data-testid=stStatusWidget]", state="hidden", timeout=timeout_s * 1000)
    page.wait_for_timeout(500)


def pixels(page, role: str) -> str:
    """The picture a canvas of the component shows now (a data URL)."""
    return page.locator(f"canvas[data-role={role}]").evaluate("c => c.toDataURL()")
