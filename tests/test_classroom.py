"""Classroom policy: limits, their persistence and messages, roles. (Against a live backend: tests/test_ray.py.)"""

import json

import pytest

from engine.core.config import ConfigError
from engine.core.models import build_model, n_params
from engine.core.presets import PRESETS, preset
from engine.jobs import JobError
from engine.jobs.classroom import (
    INSTRUCTOR,
    STUDENT,
    ClassroomBackend,
    Policy,
    QuotaError,
    User,
    check_new_job,
    model_params,
    role_of,
)

ALICE, TEACH = User("alice"), User("teach", INSTRUCTOR)


def test_policy_defaults_roundtrip_and_validation(tmp_path):
    p = Policy.load(tmp_path)  # no file yet: the defaults
    assert (p.max_jobs_per_student, p.max_epochs, p.max_params, p.max_queue) == (2, 30, 3_000_000, 200)
    q = p.changed(max_epochs=5, datasets=["mnist"], defaults={"epochs": 3, "dataset": "mnist"})
    q.save(tmp_path)
    assert json.loads((tmp_path / "classroom.json").read_text())["max_epochs"] == 5
    assert Policy.load(tmp_path) == q
    with pytest.raises(ConfigError, match="max_jobs_per_student: Input should be greater than or equal to 1"):
        p.changed(max_jobs_per_student=0)
    with pytest.raises(ConfigError, match="unknown setting 'max_gpus'"):
        p.changed(max_gpus=3)
    with pytest.raises(ConfigError, match="unknown setting.*in defaults: colour"):
        p.changed(defaults={"colour": "red"})
    (tmp_path / "classroom.json").write_text('{"max_queue": -1}')
    with pytest.raises(ConfigError, match="not a valid class policy: max_queue"):
        Policy.load(tmp_path)


def test_roles_from_policy_and_environment(monkeypatch):
    p = Policy(instructors=["Prof@Uni.edu"])
    assert role_of("prof@uni.edu", p) == INSTRUCTOR
    assert role_of("alice@uni.edu", p) == STUDENT
    monkeypatch.setenv("AE_LAB_INSTRUCTORS", "ta@uni.edu, other@uni.edu")
    assert role_of("ta@uni.edu") == INSTRUCTOR and role_of("alice@uni.edu") == STUDENT


@pytest.mark.parametrize("name", list(PRESETS))
def test_model_params_matches_the_built_model(name):
    cfg = preset(name)
    assert model_params(cfg) == n_params(build_model(cfg, (1, 28, 28)))


def test_quota_messages_and_instructor_exemption():
    p = Policy(max_jobs_per_student=2, max_epochs=10, max_params=300_000, max_queue=5, datasets=["mnist"])
    small = preset("seed-mlp-ae", epochs=5)  # 219,891 parameters
    check_new_job(p, ALICE, small, mine=1, total=4)  # within every limit: no error
    cases = [
        (dict(cfg=small, mine=2, total=2), "you already have 2 job(s) queued or running (limit 2)"),
        (dict(cfg=preset("seed-mlp-ae", epochs=11), mine=0, total=0), "11 epochs is over this class's limit of 10"),
        (dict(cfg=preset("seed-vae", epochs=5), mine=0, total=0),
         "652,824 parameters, over the class limit of 300,000"),
        (dict(cfg=preset("seed-mlp-ae", epochs=5, dataset="synthetic"), mine=0, total=0),
         "dataset 'synthetic' is not enabled for this class: use mnist"),
        (dict(cfg=small, mine=0, total=5), "the class queue is full (5 jobs queued or running, limit 5)"),
    ]
    for kw, msg in cases:
        with pytest.raises(QuotaError) as e:
            check_new_job(p, ALICE, **kw)
        assert msg in str(e.value) and "\n" not in str(e.value)
        assert isinstance(e.value, JobError)  # pages already show JobError messages
    # instructors: only the class queue binds them
    check_new_job(p, TEACH, preset("sparse-ae", epochs=50), mine=9, total=4)
    with pytest.raises(QuotaError, match="class queue is full"):
        check_new_job(p, TEACH, small, mine=0, total=5)


def test_classroom_backend_rejects_bad_users():
    with pytest.raises(ConfigError, match="unknown role 'admin'"):
        ClassroomBackend(None, User("x", "admin"))
    with pytest.raises(ConfigError, match="a user name is needed"):
        ClassroomBackend(None, User("  "))


# ---- the wrapper over the embedded backend (the Ray one is exercised in tests/test_ray.py) -----------------


@pytest.fixture
def embedded():
    from engine.jobs.embedded import EmbeddedBackend

    b = EmbeddedBackend(max_jobs=2, warm=False, idle_s=5)
    yield b
    b.shutdown()


def _tiny(**kw):
    return preset("seed-vae", **{"dataset": "synthetic", "epochs": 2, "latent_dim": 2, "hidden": (32,), **kw})


def test_isolation_quotas_and_shared_cache_over_embedded(embedded):
    alice, bob, teach = (ClassroomBackend(embedded, u) for u in (ALICE, User("bob"), TEACH))
    teach.set_policy(max_jobs_per_student=1, max_epochs=1000)
    a = alice.submit(_tiny(epochs=1000, batch_size=8))  # long: cancelled below
    assert [j.job_id for j in alice.jobs()] == [a] and bob.jobs() == []
    with pytest.raises(JobError, match="unknown job"):
        bob.status(a)
    with pytest.raises(JobError, match="unknown job"):
        bob.cancel(a)
    with pytest.raises(QuotaError, match="already have 1 job"):
        alice.submit(_tiny(seed=1))
    assert bob.submit(_tiny(epochs=1000, batch_size=8)) == a  # attaches: no quota, one process
    assert teach.status(a).owners == ["alice", "bob"] and bob.status(a).owners == ["bob"]
    bob.cancel(a)  # bob leaves; the job keeps running for alice
    assert bob.jobs() == [] and embedded.status(a).status in ("queued", "running")
    alice.cancel(a)
    assert embedded.wait(a, timeout=120).status == "cancelled"

    t = alice.submit(_tiny())
    first = alice.wait(t, timeout=180)
    assert first.status == "completed"
    assert bob.submit(_tiny()) == t  # the shared cache: served without training
    info = bob.status(t)
    assert info.status == "completed" and (info.started, info.finished) == (first.started, first.finished)
    bob.delete(t)  # shared: bob only leaves it; the run stays for alice
    assert alice.status(t).status == "completed" and embedded.store.is_complete(t)
    with pytest.raises(JobError, match="unknown job"):
        bob.snapshot(t)
    assert alice.snapshot(t)["recon"].shape == (16, 1, 28, 28)


# ---- ui/access/auth.py: who is using the app ----------------------------------------------------------------------


def _whoami():
    import streamlit as st

    from ui.access.auth import current_user

    name, role = current_user()
    st.write(f"user={name} role={role}")


def _run(monkeypatch, **env):
    from streamlit.testing.v1 import AppTest

    for k in ("AE_LAB_CLASSROOM", "AE_LAB_USER", "AE_LAB_INSTRUCTORS"):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return AppTest.from_function(_whoami, default_timeout=30).run()


def test_local_mode_is_the_default(monkeypatch):
    at = _run(monkeypatch, AE_LAB_USER="sam")
    assert not at.exception and at.markdown[0].value == "user=sam role=instructor"


def test_classroom_roles_and_missing_login(monkeypatch):
    at = _run(monkeypatch, AE_LAB_CLASSROOM="1", AE_LAB_USER="alice", AE_LAB_INSTRUCTORS="teach")
    assert not at.exception and at.markdown[0].value == "user=alice role=student"
    at = _run(monkeypatch, AE_LAB_CLASSROOM="1", AE_LAB_USER="teach", AE_LAB_INSTRUCTORS="teach")
    assert at.markdown[0].value == "user=teach role=instructor"
    at = _run(monkeypatch, AE_LAB_CLASSROOM="1")  # no OIDC and no user: refuse, one clear line
    assert not at.exception and not at.markdown
    assert "needs a login" in at.error[0].value


def test_classroom_with_oidc_shows_the_login_screen(monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("AE_LAB_CLASSROOM", "1")
    monkeypatch.delenv("AE_LAB_USER", raising=False)
    at = AppTest.from_function(_whoami, default_timeout=30)
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32,
                          "client_id": "id", "client_secret": "s",
                          "server_metadata_url": "https://idp.example/.well-known/openid-configuration"}
    at.run()
    assert not at.exception
    assert not any("user=" in m.value for m in at.markdown)  # the page itself never ran
    assert at.title[0].value.endswith("classroom")
    assert at.button[0].label == "Log in"  # Authlib is pinned in requirements.txt, so the real login button shows


def test_pages_show_a_student_only_their_own_runs(embedded, monkeypatch):
    """Classroom mode through the real pages: Runs and the run pickers list a student's own runs only;
    the instructor sees everyone's."""
    import os

    from streamlit.testing.v1 import AppTest

    a, b = _tiny(seed=11), _tiny(seed=12)
    for user, cfg in ((ALICE, a), (User("bob"), b)):
        jid = ClassroomBackend(embedded, user).submit(cfg)
        assert embedded.wait(jid, timeout=180).status == "completed"
    monkeypatch.setenv("AE_LAB_CLASSROOM", "1")
    app = os.path.join(os.path.dirname(__file__), "..", "app.py")

    def listed(user: str, page: str) -> str:
        monkeypatch.setenv("AE_LAB_USER", user)
        at = AppTest.from_file(app, default_timeout=120).run().switch_page(page).run()
        assert not at.exception
        return " ".join(str(df.value.to_dict()) for df in at.dataframe) + " ".join(
            " ".join(s.options) for s in at.selectbox)

    seen = listed("alice", "pages/train/runs.py")
    assert a.run_id()[:6] in seen and b.run_id()[:6] not in seen
    seen = listed("alice", "pages/inspect/reconstructions.py")
    assert a.run_id()[:6] in seen and b.run_id()[:6] not in seen
    monkeypatch.setenv("AE_LAB_INSTRUCTORS", "teach")
    seen = listed("teach", "pages/train/runs.py")
    assert a.run_id()[:6] in seen and b.run_id()[:6] in seen
