"""The Lessons page as a student and a lecturer meet it: every lesson with its config-difference table (and error
bars where replicated), the lecture's formulas, numeric β legends, the tour's predict-then-reveal, the instructor's
"Prepare demo pack" button; and the tour end to end in headless Chromium (screenshots of every step and lesson in
test-artifacts/dashboard/).

The runs are trained once per module at the "test" size (2,000 digits, a few epochs: plumbing, not claims — the
claims are asserted at the offered sizes in test_lessons.py); the page is pointed at that size with
$AE_LAB_LESSON_SIZE.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from engine.cli.prepare import train_pack
from engine.teaching.applications import anomaly_specs
from engine.teaching.lessons import LESSONS, lesson_runs
from engine.teaching.pack import ANOMALY_DIGIT, chains
from engine.teaching.tour import TOUR, verdict

ROOT = Path(__file__).resolve().parent.parent
SIZE = "test"


@pytest.fixture(scope="module")
def pack(tmp_path_factory) -> Path:
    """A checkpoint folder holding every lesson's runs (and the tour's anomaly AE) at the test size."""
    root = tmp_path_factory.mktemp("tour") / "checkpoints"
    runs = [*lesson_runs(SIZE), ("anomaly/ae", anomaly_specs(SIZE, ANOMALY_DIGIT)["ae"])]
    done = train_pack(chains(runs), root, workers=2)  # safe after an AppTest (see test_spread)
    assert all(t.status == "completed" for t in done), [(t.role, t.message) for t in done]
    return root


@pytest.fixture
def prepared(pack, monkeypatch) -> Path:
    monkeypatch.setenv("AE_LAB_CHECKPOINTS", str(pack))
    monkeypatch.setenv("AE_LAB_LESSON_SIZE", SIZE)
    return pack


def _app():
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(str(ROOT / "pages" / "learn" / "lessons.py"), default_timeout=300)


def _ok(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _specs(at) -> list[str]:
    """The Vega-Lite specs of the charts on the page (JSON text)."""
    return [e.proto.spec for e in at.get("vega_lite_chart")]


def _sorts(spec) -> list[list]:
    """Every explicit `sort` list in a Vega-Lite spec (legend and offset orders)."""
    if isinstance(spec, dict):
        own = [spec["sort"]] if isinstance(spec.get("sort"), list) else []
        return own + [x for v in spec.values() for x in _sorts(v)]
    if isinstance(spec, list):
        return [x for v in spec for x in _sorts(v)]
    return []


def _text(at) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption] + [a.value for a in at.error]
                     + [a.value for a in at.success] + [a.value for a in at.info])


# ---- the tour's data ----------------------------------------------------------------------------------
def test_tour_follows_the_lecture_and_its_answers_are_the_lessons():
    assert [s.key for s in TOUR] == ["curse", "ae-uses", "mlp-cnn", "ae-latent", "regularizers", "vae-idea",
                                     "vae-latent", "beta", "epochs", "applications"]
    for s in TOUR:
        assert 0 <= s.answer < len(s.choices) and s.question and s.reveal
        assert s.lesson in (*LESSONS, "", "applications")
        assert verdict(s, s.answer)[0] and not verdict(s, (s.answer + 1) % len(s.choices))[0]


def test_beta_order_is_numeric():
    from ui.draw.plots import numeric_order

    assert numeric_order(["16", "4", "0.5", "0", "1", "4"]) == ["0", "0.5", "1", "4", "16"]
    assert numeric_order(["b", "10", "2"]) == ["2", "10", "b"]


# ---- every lesson on the page -----------------------------------------------------------------------------
@pytest.mark.timeout(1200)  # the first one trains the module's runs (a minute or two, more on a busy machine)
def test_every_lesson_shows_its_config_differences_spread_and_formulas(prepared):
    at = _app().run()
    _ok(at)
    for key, lesson in LESSONS.items():
        at.sidebar.radio(key="lesson").set_value(key).run()
        _ok(at)
        assert not [b for b in at.button if b.label.startswith("▶ Train")], key
        assert any("Why" in s.value for s in at.success), key
        if lesson.comparisons:
            assert any(e.label.startswith("What differs between the runs") for e in at.expander), key
            assert len(at.dataframe) >= len(lesson.comparisons), key
            changed = {r["setting"] for d in lesson.diffs(SIZE) for r in d["rows"] if r["kind"] == "setting"}
            shown = {v for df in at.dataframe for v in df.value.iloc[:, 0].tolist()}
            assert changed <= shown, (key, changed - shown)
        latex = [x.value for x in at.latex]
        if key in ("regularizers", "curse", "ae-latent", "complete", "beta"):
            assert latex, f"{key}: the lecture's formula is shown"
        if key == "regularizers":
            body = " ".join(latex)
            assert r"\nabla_x E_\phi(x)" in body and r"T\sim\mu_T" in body and r"\rho_k(x)" in body
            assert "*for each input*" in _text(at) and "*over the inputs*" in _text(at)  # lecture vs Ng
        if key == "curse":
            assert any("(d = 10)" in b and "0.00249" in b for b in latex), latex
        if key == "mlp-cnn":  # replicated arms: error bars in the chart and ± in the numbers
            assert any('"errorbar"' in s for s in _specs(at))
            assert "± " in _text(at) and "3 seeds" in _text(at)
            assert len(lesson.diffs(SIZE)) == 3
            assert "fewer weights" in _text(at) and "moved" in _text(at)
        if key in ("ae-latent", "vae-latent"):  # the latent map in the browser (the explorer component)
            maps = [e for e in at.get("bidi_component") if e.proto.component_name == "ae_lab.latent_explorer"]
            assert len(maps) >= 2 and "Touch the latent space" in _text(at) and "Pinned at" in _text(at)
        if key == "beta":
            sorts = [_sorts(json.loads(s)) for s in _specs(at)]
            beta_charts = [s for s in sorts if any("16" in x for x in s)]
            assert len(beta_charts) >= 4 and all(["0", "0.5", "1", "4", "16"] in s for s in beta_charts), sorts


# ---- the tour -------------------------------------------------------------------------------------------
@pytest.mark.timeout(1200)  # the first one trains the module's runs (a minute or two, more on a busy machine)
def test_tour_hides_the_evidence_until_a_prediction_is_committed(prepared):
    at = _app().run()
    at.sidebar.radio(key="lesson_mode").set_value("Tour").run()
    _ok(at)
    step = TOUR[0]
    assert at.radio(key=f"tour_choice_{step.key}").value is None
    assert at.button(key=f"tour_commit_{step.key}").disabled
    assert not at.latex and not _specs(at), "nothing revealed before the prediction"
    wrong = (step.answer + 1) % len(step.choices)
    at.radio(key=f"tour_choice_{step.key}").set_value(wrong).run()
    assert not _specs(at), "choosing is not committing"
    at.button(key=f"tour_commit_{step.key}").click().run()
    _ok(at)
    assert any("Not quite" in e.value for e in at.error)
    assert at.latex and _specs(at), "the evidence appears after the prediction"
    assert at.radio(key=f"tour_choice_{step.key}").disabled  # a committed prediction cannot be changed

    at.button(key="tour_next").click().run()
    _ok(at)
    step = TOUR[1]
    assert not _specs(at)
    at.radio(key=f"tour_choice_{step.key}").set_value(step.answer).run()
    at.button(key=f"tour_commit_{step.key}").click().run()
    _ok(at)
    assert any(s.value.startswith("Right") for s in at.success)
    assert not [b for b in at.button if b.label.startswith("▶ Train")]
    at.button(key="tour_back").click().run()
    assert any("Not quite" in e.value for e in at.error), "Back shows step 1 as it was left"


# ---- the demo pack button ------------------------------------------------------------------------------
@pytest.mark.parametrize("user, visible", [("prof@uni.edu", True), ("student@uni.edu", False)])
def test_prepare_button_is_for_instructors_in_classroom_mode(user, visible, monkeypatch):
    monkeypatch.setenv("AE_LAB_CLASSROOM", "1")
    monkeypatch.setenv("AE_LAB_USER", user)
    monkeypatch.setenv("AE_LAB_INSTRUCTORS", "prof@uni.edu")
    at = _app().run()
    _ok(at)
    assert any(b.label.startswith("▶ Train") for b in at.button)  # the lesson's own button, for everyone
    assert any(b.label == "Prepare demo pack" for b in at.sidebar.button) == visible


def test_prepare_button_in_local_mode_submits_the_pack(monkeypatch):
    monkeypatch.setenv("AE_LAB_LESSON_SIZE", SIZE)
    submitted = []

    class Fake:
        def submit(self, cfg, owner=None):
            submitted.append(cfg.run_id())
            return cfg.run_id()

        def status(self, job_id):
            from engine.jobs import JobError

            raise JobError("unknown")

    monkeypatch.setattr("ui.lessons.demo_pack.try_user_backend", lambda: Fake())
    at = _app().run()
    _ok(at)
    assert "0 of" in " ".join(p.proto.text for p in at.get("progress"))
    at.sidebar.button(key="prepare_pack").click().run()
    from engine.teaching.pack import demo_pack

    pack = [c.run_id() for _, c in demo_pack(SIZE)]
    assert submitted == pack  # every run, shortest first (a longer run continues a shorter one)


# ---- end to end in Chromium ---------------------------------------------------------------------------------
@pytest.fixture
def tour_server(prepared, tmp_path):
    from test_e2e import streamlit_app

    with streamlit_app(tmp_path, dict(os.environ)) as url:
        yield url


def fresh(pg, text: str, timeout_s: float = 300) -> None:
    """Wait until the script has rerun to its end: no element left over from the previous run (Streamlit marks
    them stale), nothing running, and `text` (what the page draws last) shown."""
    time.sleep(1.0)
    pg.wait_for_function(
        "(t) => document.querySelectorAll('[data-stale=true]').length === 0 && "
        "!document.querySelector('[data-testid=stStatusWidget]') && "
        "document.querySelector('[data-testid=stMain]').innerText.includes(t)", arg=text, timeout=timeout_s * 1000)
    time.sleep(1.5)  # charts and formulas finish drawing


@pytest.mark.e2e
def test_tour_end_to_end_and_every_lesson_in_chromium(tour_server):
    from playwright.sync_api import sync_playwright
    from test_e2e import CHROMIUM, CHROMIUM_ARGS, no_exception, settle, shoot

    if not Path(CHROMIUM).exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.goto(tour_server)  # a fresh server's first run is Streamlit's own: a deep link then shows "Page not found"
        pg.get_by_test_id("stSidebarNav").wait_for(timeout=120_000)
        pg.goto(f"{tour_server}/Lessons")
        settle(pg)
        fresh(pg, "Why.")  # lesson 1, evidence computed
        no_exception(pg)
        pg.locator("[data-testid=stSidebar] [role=radiogroup]").first.get_by_text("Tour").click()
        fresh(pg, "Commit my prediction")
        for i, step in enumerate(TOUR):
            main = pg.locator("[data-testid=stMain]")
            assert step.title in main.inner_text()
            assert "The evidence." not in main.inner_text(), f"step {i + 1}: nothing before the prediction"
            if i == 0:
                shoot(pg, f"tour_{i + 1:02d}_predict")
            choice = step.answer if i % 3 else (step.answer + 1) % len(step.choices)  # some wrong, most right
            main.locator("[role=radiogroup] label").nth(choice).click()
            time.sleep(1.0)
            pg.get_by_role("button", name="Commit my prediction").click()
            fresh(pg, "The evidence.")
            no_exception(pg)
            text = main.inner_text()
            assert ("Right —" in text) == (choice == step.answer) and "The evidence." in text, text[:400]
            assert "▶ Train" not in text, f"step {i + 1}: the prepared runs open at once"
            shoot(pg, f"tour_{i + 1:02d}_{step.key}")
            if i < len(TOUR) - 1:
                pg.get_by_role("button", name="Next →").click()
                fresh(pg, TOUR[i + 1].title)
        pg.locator("[data-testid=stSidebar] [role=radiogroup]").first.get_by_text("Lessons").click()
        fresh(pg, "Why.")
        lessons = pg.locator("[data-testid=stSidebar] [role=radiogroup]").nth(1).locator("label")
        assert lessons.count() == len(LESSONS)
        for i in range(lessons.count()):
            lessons.nth(i).click()
            fresh(pg, "Why.")
            no_exception(pg)
            assert "▶ Train" not in pg.inner_text("[data-testid=stMain]")
            pg.locator("[data-testid=stVegaLiteChart] canvas, [data-testid=stVegaLiteChart] svg").first.wait_for(
                timeout=60_000)
            shoot(pg, f"lesson_{i + 1}_{list(LESSONS)[i]}")
        browser.close()
