"""Work in a page's own thread is bounded in classroom mode: students generate only small Ising sets (or pick a set
generated already), Graph AE sizes and epochs are checked by the server, and everything runs in one of a few
server-wide slots (a request that finds them busy is told so instead of piling up)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from engine.data import ising

APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture(autouse=True)
def _class(tmp_path, monkeypatch):
    monkeypatch.setenv("AE_LAB_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("AE_LAB_CLASSROOM", "1")
    monkeypatch.setenv("AE_LAB_INSTRUCTORS", "prof@uni.edu")
    monkeypatch.setenv("AE_LAB_USER", "alice@uni.edu")


def _page(path: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=240).run().switch_page(path).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_student_cannot_generate_a_big_ising_set_but_can_a_small_one(monkeypatch):
    calls = []
    monkeypatch.setattr(ising, "sample", lambda *a, **k: calls.append(a) or pytest.fail("sampled in the page"))
    at = _page("pages/beyond/ising.py")  # the page's default set (~530 M spin updates) is not generated yet
    assert "students may generate up to" in " ".join(w.value for w in at.warning)
    assert "or train on it from the Train page (dataset 'ising')" in " ".join(w.value for w in at.warning)
    assert not [b for b in at.button if b.key == "gen"], "no Generate button to press"
    for key, v in (("ising_L", 8), ("ising_per", 50), ("ising_equil", 100), ("ising_gap", 1)):
        at.select_slider(key=key).set_value(v)
    at.slider(key="ising_nt").set_value(4).run()
    assert not at.warning and [b for b in at.button if b.key == "gen"], "a small set: the student may generate it"
    assert not calls
    monkeypatch.setenv("AE_LAB_USER", "prof@uni.edu")
    at = _page("pages/beyond/ising.py")
    assert not at.warning and [b for b in at.button if b.key == "gen"], "instructors generate any set"


def test_training_on_the_default_ising_set_leaves_its_sampling_to_the_job(monkeypatch):
    """The Train page checks a run on "ising" before the set exists without sampling it in the page's thread (it
    did: ~25 s of one core, with no slot and no student limit); the job generates it under the job limits."""
    monkeypatch.setattr(ising, "sample", lambda *a, **k: pytest.fail("sampled in the page"))
    at = _page("pages/train/train.py")
    at.selectbox(key="tr_dataset").set_value("ising").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("the training job samples it first" in i.value for i in at.info)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["numbers in the code"] == "20" and metrics["input ÷ code"] == "39.2×", "28×28 spins, as MNIST"
    assert not at.button(key="launch").disabled and not ising.is_cached()
    at.radio(key="tr_arch").set_value("cnn").run()
    assert not at.exception and not at.error and not ising.is_cached()
    from engine.core.presets import preset
    from engine.jobs.classroom import model_params

    vae = preset("seed-vae")
    assert model_params(vae.model_copy(update={"dataset": "ising"})) == model_params(vae), "the class limit's count"


def test_a_student_picks_a_set_generated_already():
    p = ising.IsingParams(L=8, temps=(1.5, 3.5), per_temp=20, chains=10, equil=10, gap=1)
    ising.generate(p)
    at = _page("pages/beyond/ising.py")
    at.toggle(key="ising_old").set_value(True).run()
    assert not at.exception and not at.warning
    assert f"Dataset **{p.name}**" in " ".join(s.value for s in at.success)


def _refusals():
    import streamlit as st

    from engine.data.ising import IsingParams
    from ui.classroom.limits import graph_refusal, ising_refusal

    st.write(f"{ising_refusal(IsingParams())} | {graph_refusal(16, 500, 64, 16, 0)} | "
             f"{graph_refusal(16, 200, 64, 16, 0)} | {graph_refusal(5, 100, 16, 2, 0)} | "
             f"{graph_refusal(16, 100, 4096, 2, 0)}")


@pytest.mark.parametrize("user, expect", [
    ("alice@uni.edu", ["takes about", "over the classroom limit of 200", "None", "must be even",
                       "hidden must be a whole number between 8 and 64"]),
    ("prof@uni.edu", ["None", "None", "None", "must be even", "hidden must be"]),
])
def test_the_server_checks_what_the_widgets_allow(user, expect, monkeypatch):
    monkeypatch.setenv("AE_LAB_USER", user)
    at = AppTest.from_function(_refusals, default_timeout=60).run()
    parts = at.markdown[0].value.split(" | ")
    assert all(e in p for e, p in zip(expect, parts, strict=True)), parts


def test_page_work_waits_for_a_free_slot_then_says_the_server_is_busy(monkeypatch):
    import ui.classroom.limits
    from ui.classroom.limits import PAGE_WORK_SLOTS, Busy, _slots, bounded

    monkeypatch.setattr(ui.classroom.limits, "PAGE_WORK_WAIT_S", 0.2)
    slots = _slots(PAGE_WORK_SLOTS)
    for _ in range(PAGE_WORK_SLOTS):  # other students' work holds every slot
        assert slots.acquire(timeout=5)
    try:
        with pytest.raises(Busy, match="busy with other students' sampling: try again"), bounded("sampling"):
            pytest.fail("ran without a slot")
        at = _page("pages/beyond/graph_ae.py")
        at.number_input(key="g_seed").set_value(4321).run()  # settings nobody trained: no cached result
        at.button(key="g_train").click().run()
        assert not at.exception and "busy with other students' graph training" in at.error[0].value
    finally:
        for _ in range(PAGE_WORK_SLOTS):
            slots.release()
    at.button(key="g_train").click().run()
    assert not at.exception and not at.error and at.metric[2].value == "34 / 78"
