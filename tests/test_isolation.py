"""Two students logged in to the classroom (real OIDC claims through AppTest's `user`), each with their own
upload, runs (on MNIST-like synthetic data, on their upload, on a shared Ising set) and downloads: on every page,
neither sees anything of the other's — run ids, dataset names, file names — anywhere in the element tree
(selectbox options, dataframes, captions, download buttons and the files behind them)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from apptest import page_file
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from engine.core.presets import preset
from engine.data import ising, uploads
from engine.jobs.classroom import ClassroomBackend, User

APP = str(Path(__file__).resolve().parent.parent / "app.py")
AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32, "client_id": "id",
        "client_secret": "s", "server_metadata_url": "https://idp.example/.well-known/openid-configuration"}
ISS = "https://idp.example"
STUDENTS = {  # alice logs in with a verified e-mail, bob with an unverified one (identified by iss + sub)
    "alice": ({"is_logged_in": True, "iss": ISS, "sub": "a-1", "email": "alice@uni.edu", "email_verified": True,
               "name": "Alice"}, "email:alice@uni.edu"),
    "bob": ({"is_logged_in": True, "iss": ISS, "sub": "b-2", "email": "bob@uni.edu", "email_verified": False,
             "name": "Bob"}, f"oidc:{ISS}#b-2"),
}
TINY_ISING = ising.IsingParams(L=8, temps=(1.5, 3.5), per_temp=30, chains=10, equil=20, gap=2)
PAGES = ["home", "lessons", "train", "live_run", "runs", "class_board", "reconstructions", "samples", "latent_space",
         "compare", "applications", "ising", "your_data", "graph_ae"]
# what each student must see of their own work on a page (so that "sees nothing of the other's" means something)
OWN = {"runs": ("plain", "upload", "ising", "dataset"), "live_run": ("plain", "upload", "ising"),
       "reconstructions": ("plain",), "samples": ("plain",), "latent_space": ("plain",), "compare": ("plain",),
       "ising": ("ising",), "your_data": ("dataset", "file")}


def _tiny(**kw):
    return preset("seed-vae", **{"epochs": 1, "latent_dim": 2, "hidden": (32,), "batch_size": 16, **kw})


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Checkpoints and data of a class where alice and bob each uploaded a file and trained three runs."""
    import os

    from engine.jobs.embedded import EmbeddedBackend

    root = tmp_path_factory.mktemp("class")
    env = {"AE_LAB_CHECKPOINTS": str(root / "checkpoints"), "AE_LAB_DATA": str(root / "data")}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    ising.generate(TINY_ISING)
    be = EmbeddedBackend(max_jobs=2, warm=False, idle_s=5)
    tokens, run_ids = {}, {}
    try:
        for seed, (who, (_, identity)) in enumerate(STUDENTS.items(), start=21):
            b = io.BytesIO()
            np.save(b, (np.random.default_rng(seed).random((60, 28, 28)) * 255).astype(np.uint8))
            dataset = uploads.save(uploads.prepare(f"{who}_secret.npy", b.getvalue()), owner=identity)
            cb = ClassroomBackend(be, User(identity))
            runs = {"plain": _tiny(dataset="synthetic", seed=seed), "upload": _tiny(dataset=dataset, seed=seed),
                    "ising": _tiny(dataset=TINY_ISING.name, seed=seed)}
            ids = {}
            for k, c in runs.items():  # one at a time: the class limit is 2 jobs at once
                ids[k] = cb.submit(c)
                assert be.wait(ids[k], timeout=240).status == "completed"
            run_ids[who] = ids
            tokens[who] = {**{k: v[:6] for k, v in ids.items()},  # pages show at least a run id's first 6 digits
                           "dataset": dataset.removeprefix("upload-"), "file": f"{who}_secret"}
        yield env, tokens, run_ids
    finally:
        be.shutdown()
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)


@pytest.fixture(autouse=True)
def _isolated(world, monkeypatch):
    """Overrides conftest's: every test here shares the class above."""
    for k, v in world[0].items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("AE_LAB_CLASSROOM", "1")
    monkeypatch.delenv("AE_LAB_USER", raising=False)
    monkeypatch.setenv("AE_LAB_INSTRUCTORS", "prof@uni.edu")


@pytest.fixture
def downloads(monkeypatch):
    """Every file a download button offers during the test: (file name, bytes)."""
    seen: list[tuple[str, bytes]] = []
    original = MemoryMediaFileStorage.load_and_get_id

    def record(self, path_or_data, mimetype, kind, filename=None):
        if isinstance(path_or_data, bytes):
            seen.append((filename or "", path_or_data))
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", record)
    return seen


def page_as(claims: dict, page: str, **state) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=240)
    at.secrets["auth"] = AUTH
    at.user = dict(claims)
    at.run().switch_page(page_file(page))
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    if page == "ising":  # pick the shared set generated already, where both trained a run
        at.toggle(key="ising_old").set_value(True).run()
        assert not at.exception, [e.value for e in at.exception]
    return at


def everything(at: AppTest, downloads: list[tuple[str, bytes]]) -> str:
    """All the page shows: every element's protobuf (labels, options, values, tables), and the download files."""
    parts = []

    def walk(node):
        parts.append(str(getattr(node, "proto", "") or ""))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    parts += [f"{name} {data.decode('latin-1')}" for name, data in downloads]
    return "\n".join(parts)


@pytest.mark.parametrize("viewer, other", [("alice", "bob"), ("bob", "alice")])
@pytest.mark.parametrize("page", PAGES)
def test_a_student_sees_nothing_of_another_students_work(page, viewer, other, world, downloads):
    tokens = world[1]
    state = {"selected_run": None}
    if page in ("runs", "ising"):  # open the viewer's own run: its download button is drawn
        state["selected_run"] = world[2][viewer]["ising" if page == "ising" else "plain"]
    at = page_as(STUDENTS[viewer][0], page, **state)
    shown = everything(at, downloads)
    leaked = {k: v for k, v in tokens[other].items() if v in shown}
    assert not leaked, f"{viewer} sees {other}'s {sorted(leaked)} on {page}"
    missing = [k for k in OWN.get(page, ()) if tokens[viewer][k] not in shown]
    assert not missing, f"{viewer} does not see their own {missing} on {page}"
    if page in ("runs", "ising"):
        assert any(name.startswith(tokens[viewer][page if page == "ising" else "plain"]) for name, _ in downloads)


def test_an_instructor_sees_every_students_work(world):
    tokens = world[1]
    prof = {"is_logged_in": True, "iss": ISS, "sub": "p-0", "email": "prof@uni.edu", "email_verified": True}
    for page, kinds in (("runs", ("plain", "upload", "ising")), ("your_data", ("dataset",))):
        shown = everything(page_as(prof, page), [])
        for who in STUDENTS:
            assert all(tokens[who][k] in shown for k in kinds), (page, who)


def test_a_student_cannot_train_on_another_students_upload(world):
    """Even with the exact config of a run the owner already trained (the shared cache would serve it)."""
    from engine.jobs import JobError
    from engine.jobs.embedded import EmbeddedBackend

    tokens = world[1]
    cfg = _tiny(dataset=f"upload-{tokens['alice']['dataset']}", seed=21)
    be = EmbeddedBackend(warm=False)
    assert be.store.is_complete(cfg.run_id())  # alice's run: in the cache
    bob = ClassroomBackend(be, User(STUDENTS["bob"][1]))
    with pytest.raises(JobError, match="you have no uploaded dataset 'upload-") as e:
        bob.submit(cfg)
    assert "\n" not in str(e.value)
    assert bob.jobs() == [] or cfg.run_id() not in [j.job_id for j in bob.jobs()]
    with pytest.raises(JobError, match="unknown job"):  # and resuming it is no way round
        bob.resume(cfg.run_id())
