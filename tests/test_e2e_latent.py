"""The latent explorer end to end in headless Chromium (Debian's), on the explorer's test app
(tests/apps/latent_explorer_app.py): hovering decodes in the browser without a script rerun, a click commits its
point to the server, drawing moves the code on the map, and a rerun does not send the weights again.
Run: .venv/bin/python -m pytest tests/test_e2e_latent.py -m e2e -q
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from latent_browser import CHROMIUM, Wire, chromium, explorer_app, pixels, ready

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with explorer_app("seed-vae", tmp_path_factory.mktemp("explorer")) as url:
        yield url


@pytest.fixture
def explorer(app):
    with chromium() as pg:
        wire = Wire()
        wire.attach(pg)
        pg.goto(app)
        ready(pg)
        yield pg, wire


def _box(pg, role: str) -> dict:
    loc = pg.locator(f"canvas[data-role={role}]")
    loc.scroll_into_view_if_needed()
    return loc.bounding_box()


def test_hover_decodes_in_the_browser_without_a_rerun(explorer):
    pg, wire = explorer
    box = _box(pg, "map")
    before, changed, steps = wire.reruns(), 0, 24
    last = pixels(pg, "decoded")
    for i in range(steps):  # a diagonal sweep across the map, no button pressed
        f = i / steps
        pg.mouse.move(box["x"] + box["width"] * (0.1 + 0.8 * f), box["y"] + box["height"] * (0.85 - 0.7 * f))
        pg.wait_for_timeout(0.05 * 1000)
        now = pixels(pg, "decoded")
        changed += now != last
        last = now
    assert changed >= 0.75 * steps, f"the decoded image changed at {changed} of {steps} steps"
    pg.wait_for_timeout(0.5 * 1000)
    assert wire.reruns() == before, f"hovering sent {wire.reruns() - before} rerun_script BackMsgs"


def test_a_click_commits_its_point(explorer):
    pg, wire = explorer
    box = _box(pg, "map")
    x, y = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.7
    pg.mouse.move(x, y)
    pg.wait_for_timeout(0.3 * 1000)
    at = [float(v) for v in pg.locator("canvas[data-role=decoded]").get_attribute("data-at").split(",")]
    before = wire.reruns()
    pg.mouse.click(x, y)
    pinned = pg.get_by_text(re.compile(r"Pinned at \("))
    got = None
    for _ in range(120):  # the server's caption shows the clicked point once the rerun is drawn
        m = re.search(r"Pinned at \((-?[\d.]+), (-?[\d.]+)\)", pinned.inner_text())
        got = (float(m[1]), float(m[2]))
        if abs(got[0] - at[0]) < 0.011 and abs(got[1] - at[1]) < 0.011:
            break
        pg.wait_for_timeout(0.5 * 1000)
    assert abs(got[0] - at[0]) < 0.011 and abs(got[1] - at[1]) < 0.011, (got, at)
    assert wire.reruns() == before + 1
    pg.wait_for_timeout(0.5 * 1000)
    assert pg.locator("canvas[data-role=map]").count() == 1, "the map was drawn again beside the old one"
    pg.mouse.move(x + 40, y - 40)  # the redrawn map still decodes under the mouse
    pg.wait_for_timeout(0.3 * 1000)
    assert pg.locator("canvas[data-role=decoded]").get_attribute("data-at") != ",".join(f"{v:.4f}" for v in at)


def test_drawing_moves_the_code_on_the_map(explorer):
    pg, wire = explorer
    box = _box(pg, "board")
    before = wire.reruns()
    pg.mouse.move(box["x"] + 80, box["y"] + 40)
    pg.mouse.down()
    seen = []
    for i in range(12):  # a seven: along the top, then down to the left
        dx, dy = (i * 10, 0) if i < 6 else (60 - (i - 6) * 8, (i - 6) * 30)
        pg.mouse.move(box["x"] + 80 + dx, box["y"] + 40 + dy)
        pg.wait_for_timeout(0.05 * 1000)
        seen.append(pg.locator("canvas[data-role=drawn-map]").get_attribute("data-mu"))
    pg.mouse.up()
    codes = [s for s in seen if s]
    assert codes, "the drawing was never encoded"
    assert len(set(codes)) >= 4, f"the code moved to only {len(set(codes))} places over 12 strokes"
    assert wire.reruns() == before, "drawing sent a rerun to the server"


def test_a_rerun_does_not_send_the_weights_again(explorer):
    pg, wire = explorer
    first = wire.received
    assert first > 2_000_000, f"the first load received {first} bytes: the weights (2.6 MB) are not in it"
    wire.received = 0
    pg.get_by_role("button", name="Rerun the page").click()
    pg.wait_for_timeout(1.0 * 1000)
    pg.wait_for_selector("[data-testid=stStatusWidget]", state="hidden", timeout=60_000)
    pg.wait_for_timeout(1.0 * 1000)
    assert wire.reruns() >= 1
    assert wire.received < 200_000, f"a rerun received {wire.received} bytes (the weights are 2.6 MB)"
