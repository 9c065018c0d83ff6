"""Uploads have owners: the same bytes uploaded twice are one dataset with two owners, each seeing their own file
name; a student trains on and removes only their own; removing never breaks a run that still needs the data."""

from __future__ import annotations

import io
from types import SimpleNamespace

import numpy as np
import pytest

from engine.core.presets import preset
from engine.data import uploads
from engine.data.uploads import UploadError
from engine.jobs import JobError
from engine.jobs.classroom import ClassroomBackend
from engine.jobs.datasets import DatasetInUse, check_dataset, remove_upload, runs_on
from engine.jobs.identity import INSTRUCTOR, User

ALICE, BOB, PROF = User("email:alice@uni.edu"), User("oidc:https://idp#b"), User("email:prof@uni.edu", INSTRUCTOR)


@pytest.fixture(autouse=True)
def _data_root(tmp_path, monkeypatch):
    monkeypatch.setenv("AE_LAB_DATA", str(tmp_path / "data"))


def _npy(seed: int = 0) -> bytes:
    b = io.BytesIO()
    np.save(b, (np.random.default_rng(seed).random((40, 8, 8)) * 255).astype(np.uint8))
    return b.getvalue()


def _keep(who: User, filename: str, seed: int = 0) -> str:
    return uploads.save(uploads.prepare(filename, _npy(seed)), owner=who.name)


def test_same_bytes_are_one_dataset_with_two_owners_who_each_see_their_own_file_name():
    a = _keep(ALICE, "alice-private-name.npy")
    b = _keep(BOB, "mine.npy")
    assert a == b and sorted(uploads.owners(a)) == sorted([ALICE.name, BOB.name])
    assert [m["source"] for m in uploads.stored(owner=BOB.name)] == ["mine.npy"]
    assert [m["source"] for m in uploads.stored(owner=ALICE.name)] == ["alice-private-name.npy"]
    assert "alice-private-name" not in str(uploads.stored(owner=BOB.name))  # not in the note either
    assert uploads.stored(owner="email:carol@uni.edu") == []
    assert uploads.stored()[0]["owners"] == sorted([ALICE.name, BOB.name])  # instructors: all, with owners


def test_a_student_trains_only_on_their_own_uploads():
    a = _keep(ALICE, "a.npy", seed=1)
    check_dataset(ALICE, a)
    check_dataset(PROF, a)
    check_dataset(BOB, "mnist")
    for name in (a, "upload-0123456789ab", "upload-../../etc"):  # another's, a missing one, a bad one: same line
        with pytest.raises(JobError, match="you have no uploaded dataset") as e:
            check_dataset(BOB, name)
        assert "\n" not in str(e.value)

    class Untouchable:  # the check comes before the backend is asked anything (the shared cache included)
        store = SimpleNamespace(index=None)

        def __getattr__(self, name):
            pytest.fail(f"the backend was asked '{name}'")

    cb = ClassroomBackend.__new__(ClassroomBackend)
    cb.inner, cb.user, cb.store = Untouchable(), BOB, None
    with pytest.raises(JobError, match="you have no uploaded dataset"):
        cb.submit(preset("seed-vae", dataset=a, epochs=1))


def _run_on(store, dataset: str, seed: int) -> str:
    cfg = preset("seed-vae", dataset="synthetic", seed=seed)
    rid = cfg.run_id()
    store.set_meta(rid, config={**cfg.model_dump(mode="json"), "dataset": dataset}, status="completed")
    return rid


def test_removing_never_breaks_a_run_and_drops_only_your_own_copy(store):
    name = _keep(ALICE, "a.npy")
    _keep(BOB, "b.npy")
    alices = _run_on(store, name, 1)
    with pytest.raises(DatasetInUse, match=f"1 of your runs were trained on this dataset \\({alices}\\)"):
        remove_upload(name, ALICE, store, mine={alices})
    assert runs_on(name, store) == [alices]
    assert remove_upload(name, BOB, store, mine=set()) == "Removed from your datasets."  # alice keeps it
    assert list(uploads.owners(name)) == [ALICE.name] and uploads.stored(owner=BOB.name) == []
    with pytest.raises(UploadError, match="not one of your datasets"):
        remove_upload(name, BOB, store, mine=set())
    with pytest.raises(DatasetInUse, match="1 runs were trained"):  # an instructor: every run counts
        remove_upload(name, PROF, store)
    store.delete(alices)
    queued = SimpleNamespace(job_id="abc", config={"dataset": name})  # a job not in the store yet needs it too
    with pytest.raises(DatasetInUse):
        remove_upload(name, PROF, store, jobs=[queued])
    assert remove_upload(name, ALICE, store, mine=set()) == "Removed."  # the last owner, no run: the data go
    assert uploads.stored() == [] and not (uploads.upload_dir() / name.removeprefix("upload-")).exists()


def test_the_last_owner_leaving_keeps_data_other_runs_still_use(store):
    name = _keep(ALICE, "a.npy")
    other = _run_on(store, name, 2)  # e.g. an instructor's run on it
    assert remove_upload(name, ALICE, store, mine=set()) == "Removed from your datasets."
    assert uploads.stored(owner=ALICE.name) == [] and [m["owners"] for m in uploads.stored()] == [[]]
    store.delete(other)
    assert remove_upload(name, PROF, store) == "Removed." and uploads.stored() == []


def test_your_data_page_lists_and_removes_only_the_students_own(monkeypatch):
    import os

    from streamlit.testing.v1 import AppTest

    a, b = _keep(ALICE, "alice.npy", seed=1), _keep(BOB, "bob.npy", seed=2)
    monkeypatch.setenv("AE_LAB_CLASSROOM", "1")
    monkeypatch.setenv("AE_LAB_USER", "bob@uni.edu")  # $AE_LAB_USER e-mails read as verified: email:bob@uni.edu
    uploads.save(uploads.prepare("bob.npy", _npy(2)), owner="email:bob@uni.edu")
    app = os.path.join(os.path.dirname(__file__), "..", "app.py")
    at = AppTest.from_file(app, default_timeout=120).run().switch_page("pages/beyond/your_data.py").run()
    assert not at.exception
    assert at.selectbox(key="upload_pick").options == [f"bob.npy · 1 × 8 × 8 · 34 train / 6 held-out · {b}"]
    at.button(key="upload_remove").click().run()
    assert not at.exception and not at.error
    assert sorted(uploads.owners(b)) == [BOB.name] and a in {m["name"] for m in uploads.stored()}
