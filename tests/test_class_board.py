"""The Class page and the Train page's class experiment through AppTest, signed in with OIDC claims (AppTest's
`user`): an instructor posts a β sweep, two students are each given a value (balanced, stable on reload), the
Train page has it filled in and marked, Launch records it, the board shows the instructor names and run ids and
a student anonymous points only; a closed experiment takes no new runs; a restart keeps it; hostile posts get one
line; local mode works as a class of one. The engine side: test_experiments.py."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from apptest import elements, page_file
from streamlit.testing.v1 import AppTest
from test_isolation import AUTH, ISS, everything

from engine.core.presets import preset
from engine.core.store import Store
from engine.jobs.experiments import Experiments
from engine.jobs.identity import INSTRUCTOR, User

APP = str(Path(__file__).resolve().parent.parent / "app.py")
CLAIMS = {
    "prof": {"is_logged_in": True, "iss": ISS, "sub": "p-0", "email": "prof@uni.edu", "email_verified": True,
             "name": "Prof"},
    "alice": {"is_logged_in": True, "iss": ISS, "sub": "a-1", "email": "alice@uni.edu", "email_verified": True,
              "name": "Alice"},
    "bob": {"is_logged_in": True, "iss": ISS, "sub": "b-2", "email": "bob@uni.edu", "email_verified": False,
            "name": "Bob"},
}
ID = {"prof": "email:prof@uni.edu", "alice": "email:alice@uni.edu", "bob": f"oidc:{ISS}#b-2"}
PROF = User(ID["prof"], INSTRUCTOR)


@pytest.fixture
def classroom(monkeypatch):
    monkeypatch.setenv("AE_LAB_CLASSROOM", "1")
    monkeypatch.delenv("AE_LAB_USER", raising=False)
    monkeypatch.setenv("AE_LAB_INSTRUCTORS", "prof@uni.edu")
    return Store(os.environ["AE_LAB_CHECKPOINTS"]).root


def page_as(who: str | None, page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=240)
    if who is not None:
        at.secrets["auth"] = AUTH
        at.user = dict(CLAIMS[who])
    at.run().switch_page(page_file(page)).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def shown(at: AppTest) -> str:
    return everything(at, [])


def post_beta(at: AppTest, values: str = "0, 1, 4", epochs: int = 1) -> AppTest:
    box = next(t for t in at.text_input if t.label.startswith("Values"))
    box.set_value(values)
    next(n for n in at.number_input if n.label == "Epochs").set_value(epochs)
    next(n for n in at.number_input if n.label.startswith("Training images")).set_value(300)
    next(b for b in at.button if b.label == "Post the experiment").click()
    return at.run()


def fake_run(store: Store, cfg, owners: list[str], recon: float, kl: float) -> str:
    """A finished run as the store's index keeps it (no training: the board reads only the index)."""
    rid = cfg.run_id()
    store.set_meta(rid, config=cfg.model_dump(mode="json"), status="completed", epochs=cfg.epochs,
                   epochs_done=cfg.epochs, heldout={"recon": recon, "kl": kl, "mse01": 30.0 + kl, "loss": recon + kl})
    store.index.set(f"class:{rid}", {"owners": owners, "starter": owners[0]})
    return rid


def test_hostile_posts_get_one_line_and_store_nothing(classroom):
    at = page_as("prof", "class_board")
    for values, msg in (("0, 1, 1e9", "out of range"), ("0; drop table", "'drop' is not a number"),
                        ("1," * 30, "too many for one sweep"), ("3", "at least 2 values")):
        post_beta(at, values)
        assert not at.exception
        assert any(msg in e.value and "\n" not in e.value for e in at.error), (values, [e.value for e in at.error])
    assert Experiments(classroom).all() == []
    at = page_as("alice", "class_board")  # a student has no form to post with
    assert not [b for b in at.button if b.label == "Post the experiment"]
    assert "No class experiment is open" in shown(at)


def test_students_are_given_balanced_values_that_stay_on_reload_and_the_train_page_is_filled_in(classroom):
    post_beta(page_as("prof", "class_board"))
    exp = Experiments(classroom).current()
    assert exp is not None and exp.values == [0, 1, 4] and exp.epochs == 1
    at = page_as("alice", "train")
    assert at.number_input(key="tr_beta").value == 0.0 and at.number_input(key="tr_epochs").value == 1
    assert any("Class experiment" in i.value and "β = 0" in i.value for i in at.info)
    at = page_as("bob", "train")
    assert at.number_input(key="tr_beta").value == 1.0  # the least-assigned value next
    for _ in range(2):  # reloading: a new session, the same value
        assert page_as("alice", "train").number_input(key="tr_beta").value == 0.0
    assert Experiments(classroom).get(exp.id).counts() == [1, 1, 0]
    at = page_as("alice", "train")
    at.number_input(key="tr_beta").set_value(2.0).run()  # off the experiment: said so, with a way back
    assert any("not your class experiment's (β = 0" in w.value for w in at.warning)
    at.button(key="exp_refill").click().run()
    assert at.number_input(key="tr_beta").value == 0.0
    assert any("Class experiment" in i.value for i in at.info)


def test_the_instructor_sees_names_and_run_ids_a_student_only_anonymous_points(classroom):
    s = Store(classroom)
    post_beta(page_as("prof", "class_board"))
    exp = Experiments(classroom).current()
    ia, ib = (Experiments(classroom).assign(User(ID[w]), exp.id) for w in ("alice", "bob"))
    ra = fake_run(s, exp.config(ia), [ID["alice"]], 80.0, 30.0)
    rb = fake_run(s, exp.config(ib), [ID["bob"]], 95.0, 20.0)
    private = fake_run(s, preset("seed-vae", dataset="synthetic", seed=7, beta=8.0), [ID["bob"]], 120.0, 5.0)
    for w, rid in (("alice", ra), ("bob", rb)):
        Experiments(classroom).record(User(ID[w]), exp.id, rid)

    prof = page_as("prof", "class_board")
    text = shown(prof)
    for token in ("alice@uni.edu", ID["bob"], ra, rb, private):
        assert token in text, token
    board = next(df.value for df in prof.dataframe if "run id" in df.value.columns)
    assert set(board["run id"]) == {ra, rb, private} and len(board) == 3
    assert len(elements(prof, "vega_lite_chart")) == 3  # the plane, and the curve: KL and recon

    for viewer, other in (("alice", "bob"), ("bob", "alice")):
        at = page_as(viewer, "class_board")
        text = shown(at)
        mine = ra if viewer == "alice" else rb
        theirs = rb if viewer == "alice" else ra
        for token in (ID[other], CLAIMS[other]["email"], CLAIMS[other]["sub"], CLAIMS[other]["name"], theirs,
                      theirs[:6], private[:6], str(classroom), "checkpoints/", "runs/"):
            if viewer == "bob" and token == private[:6]:
                continue  # bob's own run
            assert token not in text, (viewer, token)
        assert mine[:6] not in text  # the board opens nothing, not even one's own run
        assert not at.get("download_button") and not [b for b in at.button if "Open" in b.label]
        assert f"runs in the class; {1 if viewer == 'alice' else 2} of them yours" in text
        assert f"Your value: **β = {0 if viewer == 'alice' else 1}**" in text
        assert "claim — the β tension" in text and "the KL fell in 1 of 1 steps and the recon rose in 1 of 1" in text
    prof = shown(page_as("prof", "class_board"))  # both signed in since: their display names beside their ids
    assert "Alice (alice@uni.edu)" in prof and f"Bob ({ID['bob']})" in prof


def test_launch_records_the_run_and_a_closed_experiment_takes_no_new_runs(classroom):
    post_beta(page_as("prof", "class_board"), values="0, 2", epochs=1)
    exp = Experiments(classroom).current()
    at = page_as("alice", "train")
    at.button(key="launch").click().run()  # the usual submit: the class limits apply
    assert not at.exception
    rid = exp.config(0).run_id()
    assert [r["run_id"] for r in Experiments(classroom).get(exp.id).runs] == [rid]

    prof = page_as("prof", "class_board")
    next(b for b in prof.button if b.label == "Close the experiment").click().run()
    assert Experiments(classroom).current() is None and Experiments(classroom).get(exp.id).closed
    at = page_as("bob", "train")  # bob came late: no value, nothing marked, his launch joins nothing
    assert not any("Class experiment" in i.value for i in at.info)
    at.number_input(key="tr_epochs").set_value(1).run()
    at.number_input(key="tr_train_limit").set_value(300).run()
    at.number_input(key="tr_beta").set_value(2.0).run()
    at.button(key="launch").click().run()
    assert not at.exception
    assert [r["run_id"] for r in Experiments(classroom).get(exp.id).runs] == [rid]
    assert exp.id not in json.dumps(Experiments(classroom).get(exp.id).assigned)
    assert ID["bob"] not in Experiments(classroom).get(exp.id).assigned
    prof = page_as("prof", "class_board")  # closed: the form to post the next one
    assert [b for b in prof.button if b.label == "Post the experiment"]


def test_a_restart_keeps_the_experiment(classroom):
    import streamlit as st

    post_beta(page_as("prof", "class_board"))
    exp = Experiments(classroom).current()
    page_as("alice", "train")
    st.cache_resource.clear()  # what a restart forgets: the server's store and backend objects
    st.cache_data.clear()
    at = page_as("prof", "class_board")
    assert f"Class experiment: {exp.title}" in shown(at)
    assert page_as("alice", "train").number_input(key="tr_beta").value == 0.0


def test_local_mode_is_a_class_of_one_with_its_user_as_instructor(monkeypatch):
    monkeypatch.delenv("AE_LAB_CLASSROOM", raising=False)
    monkeypatch.setenv("AE_LAB_USER", "sam")
    at = page_as(None, "class_board")
    assert "Local mode: you are the instructor" in shown(at)
    post_beta(at, values="0, 4")
    exp = Experiments(os.environ["AE_LAB_CHECKPOINTS"]).current()
    assert exp is not None and exp.author == "sam"
    next(b for b in at.button if b.label == "Train every value myself").click().run()
    assert not at.exception and any("2 of 2 runs launched" in m.value for m in at.success)
    runs = Experiments(os.environ["AE_LAB_CHECKPOINTS"]).get(exp.id).runs
    assert sorted(r["run_id"] for r in runs) == sorted(exp.run_ids()) and {r["who"] for r in runs} == {"sam"}
    at = page_as(None, "train")  # the instructor is assigned nothing: the Train page is as always
    assert not any("Class experiment" in i.value for i in at.info) and not at.warning
