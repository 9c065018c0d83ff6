"""One class end to end in headless Chromium, signed in through the real OpenID provider of tests/oidc/ (test_oidc's
`classroom_app` and `sign_in`): the instructor posts a β sweep on the Class page, two students (a verified e-mail,
and an unverified one known by issuer + subject) each find their own value filled in on the Train page, marked
"class experiment", and launch it; the instructor's board then names both and shows their run ids, and each
student's board holds neither the other's identity nor their run id nor the server's paths. Screenshots of the
Class page as the instructor and as a student go to test-artifacts/class/ (git-ignored).
Run: .venv/bin/python -m pytest tests/test_class_e2e.py -m e2e -q
"""

from __future__ import annotations

import time

import pytest
import test_e2e
from test_e2e import ROOT, shoot
from test_oidc import BOOT_S, browser_context, classroom_app, main_text, pytestmark, sign_in, wait_idle  # noqa: F401

from engine.core.store import Store
from engine.jobs.experiments import Experiments

RUN_S = 240


@pytest.fixture
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=test_e2e.CHROMIUM, args=test_e2e.CHROMIUM_ARGS)
        yield b
        b.close()


def open_page(pg, url: str, path: str, title: str) -> None:
    pg.goto(f"{url}/{path}")
    pg.wait_for_selector(f"[data-testid=stMain] h1:has-text('{title}')", timeout=BOOT_S * 1000)
    wait_idle(pg)
    assert pg.locator("[data-testid=stException]").count() == 0, main_text(pg)


def fill(pg, label: str, value: str) -> None:
    box = pg.get_by_label(label, exact=True)
    box.fill(value)
    box.press("Tab")


def launch_assigned(pg, url: str, beta: str) -> None:
    from playwright.sync_api import expect

    open_page(pg, url, "Train", "Train a model")
    pg.get_by_text("Class experiment").first.wait_for(timeout=30_000)
    expect(pg.get_by_label("β (weight of the KL term)", exact=True)).to_have_value(beta, timeout=30_000)
    pg.get_by_role("button", name="Launch").click()
    pg.wait_for_url("**/Live_run", timeout=60_000)


def wait_complete(store: Store, run_ids: list[str]) -> None:
    deadline = time.monotonic() + RUN_S
    while not all(store.is_complete(r) for r in run_ids):
        assert time.monotonic() < deadline, [store.meta(r) for r in run_ids]
        time.sleep(1)


def test_an_instructor_assigns_a_beta_sweep_and_two_students_train_it(tmp_path, chromium, monkeypatch):
    monkeypatch.setattr(test_e2e, "ARTIFACTS", ROOT / "test-artifacts" / "class")
    with classroom_app(tmp_path) as (url, issuer):
        prof, stu, other = (browser_context(chromium).new_page() for _ in range(3))
        received = {stu: [], other: []}  # everything the server sends each student's browser
        for pg, frames in received.items():
            pg.on("websocket", lambda ws, frames=frames: ws.on(
                "framereceived", lambda data: frames.append(data if isinstance(data, bytes) else data.encode())))
        assert sign_in(prof, url, issuer, "instructor").endswith("(instructor)")
        open_page(prof, url, "Class", "Class")
        fill(prof, "Values (comma-separated)", "0, 4")
        fill(prof, "Epochs", "1")
        fill(prof, "Training images (0 = all)", "600")
        prof.get_by_role("button", name="Post the experiment").click()
        prof.get_by_text("Class experiment: The β tension").wait_for(timeout=30_000)
        exp = Experiments(tmp_path / "checkpoints").current()
        assert exp is not None and exp.values == [0, 4] and exp.epochs == 1

        assert sign_in(stu, url, issuer, "student").endswith("(student)")
        launch_assigned(stu, url, "0.000")  # the least-assigned value first
        assert sign_in(other, url, issuer, "impostor").endswith("(student)")
        launch_assigned(other, url, "4.000")
        ids = exp.run_ids()
        wait_complete(Store(tmp_path / "checkpoints"), ids)

        open_page(prof, url, "Class", "Class")
        prof.get_by_text("2 of 2 values finished").wait_for(timeout=30_000)
        page = prof.content()
        other_id = f"oidc:{issuer}#impostor"
        for token in ("student@uni.test", other_id, *ids):
            assert token in page, token
        shoot(prof, "class_instructor")

        for pg, theirs, their_run in ((stu, other_id, ids[1]), (other, "student@uni.test", ids[0])):
            open_page(pg, url, "Class", "Class")
            pg.get_by_text("2 of 2 values finished").wait_for(timeout=30_000)
            seen = pg.content().encode() + b"".join(received[pg])
            for token in (theirs, their_run, their_run[:6], str(tmp_path)):
                assert token.encode() not in seen, token
            assert "of them yours" in main_text(pg)
            assert pg.get_by_role("button", name="Post the experiment").count() == 0
        shoot(stu, "class_student")
