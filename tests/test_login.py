"""Login fails closed and identity can't be spoofed: classroom settings the app cannot read stop it; identity is
a verified e-mail or the provider's issuer + subject, never a display name; students see one line, never a
stack trace; the local mode listens on this machine only; the secrets file is never committed."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from engine.jobs.identity import INSTRUCTOR, STUDENT, LoginRefused, identity_of, role_of

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32, "client_id": "id",
        "client_secret": "s", "server_metadata_url": "https://idp.example/.well-known/openid-configuration"}
ISS = "https://idp.example"


@pytest.fixture(autouse=True)
def _classroom(monkeypatch):
    from streamlit import config

    for k in ("AE_LAB_CLASSROOM", "AE_LAB_USER", "AE_LAB_INSTRUCTORS"):
        monkeypatch.delenv(k, raising=False)
    before = config.get_option("client.showErrorDetails")
    yield
    config.set_option("client.showErrorDetails", before)  # classroom mode sets it for the whole process


# ---- identity ---------------------------------------------------------------------------------------------
def test_identity_is_a_verified_email_or_issuer_and_subject():
    assert identity_of({"email": " Alice@Uni.EDU ", "email_verified": True, "sub": "1", "iss": ISS}) == \
        "email:alice@uni.edu"
    assert identity_of({"email": "a@uni.edu", "email_verified": "true", "sub": "1", "iss": ISS}) == "email:a@uni.edu"
    for unverified in (False, "false", None, 1, "yes"):
        assert identity_of({"email": "a@uni.edu", "email_verified": unverified, "sub": "Ab1", "iss": ISS}) == \
            f"oidc:{ISS}#Ab1"
    for claims in ({"name": "Prof", "email": "prof@uni.edu"}, {"sub": "1"}, {"iss": ISS},
                   {"sub": "  ", "iss": ISS, "preferred_username": "prof"}, {}):
        with pytest.raises(LoginRefused) as e:
            identity_of(claims)
        assert "\n" not in str(e.value)
    with pytest.raises(LoginRefused, match="not one this app accepts"):
        identity_of({"sub": "x\n1", "iss": ISS})


def test_instructors_match_verified_emails_and_exact_subjects_only():
    listed = ["Prof@Uni.edu", f"oidc:{ISS}#T-9", "teach"]
    assert role_of("email:prof@uni.edu", listed) == INSTRUCTOR
    assert role_of(f"oidc:{ISS}#prof@uni.edu", listed) == STUDENT  # a subject that looks like the address
    assert role_of(f"oidc:{ISS}#T-9", listed) == INSTRUCTOR and role_of(f"oidc:{ISS}#t-9", listed) == STUDENT
    assert role_of("teach", listed) == INSTRUCTOR and role_of("Prof", listed) == STUDENT


def _whoami():
    import streamlit as st

    from ui.access.auth import current_user, display_name

    name, role = current_user()
    st.write(f"user={name} role={role} shown={display_name()}")


def _login(claims: dict, instructors: str = "prof@uni.edu", monkeypatch=None) -> AppTest:
    monkeypatch.setenv("AE_LAB_CLASSROOM", "1")
    monkeypatch.setenv("AE_LAB_INSTRUCTORS", instructors)
    at = AppTest.from_function(_whoami, default_timeout=30)
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": True, **claims}
    return at.run()


@pytest.mark.parametrize("claims, expect", [
    ({"iss": ISS, "sub": "1", "email": "prof@uni.edu", "email_verified": True, "name": "P"},
     "user=email:prof@uni.edu role=instructor shown=P (prof@uni.edu)"),
    # the instructor's address, unverified: a student, known by issuer + subject
    ({"iss": ISS, "sub": "666", "email": "prof@uni.edu", "email_verified": False},
     f"user=oidc:{ISS}#666 role=student"),
    # a display name equal to the instructor's: a student
    ({"iss": ISS, "sub": "7", "name": "prof@uni.edu", "preferred_username": "prof@uni.edu"},
     f"user=oidc:{ISS}#7 role=student shown=prof@uni.edu (oidc:{ISS}#7)"),
])
def test_roles_through_the_real_login(claims, expect, monkeypatch):
    at = _login(claims, monkeypatch=monkeypatch)
    assert not at.exception and at.markdown[0].value.startswith(expect)


def test_a_login_without_identity_is_refused_with_one_line(monkeypatch):
    at = _login({"email": "prof@uni.edu", "name": "prof@uni.edu"}, monkeypatch=monkeypatch)  # no sub, unverified
    assert not at.exception and not at.markdown  # the page never ran
    assert len(at.error) == 1 and "Login refused" in at.error[0].value and "\n" not in at.error[0].value
    assert [b.label for b in at.button] == ["Log out"]


# ---- classroom mode fails closed --------------------------------------------------------------------------
@pytest.mark.parametrize("env, enabled, message", [
    ("enabled", None, "AE_LAB_CLASSROOM='enabled' is not understood"),
    ("Y", None, "AE_LAB_CLASSROOM='Y' is not understood"),
    (None, "yes", "must be true or false"),
    (None, 1, "must be true or false"),
    ("0", True, "make them agree"),
])
def test_unreadable_classroom_settings_stop_the_app(env, enabled, message, monkeypatch):
    if env is not None:
        monkeypatch.setenv("AE_LAB_CLASSROOM", env)
    monkeypatch.setenv("AE_LAB_USER", "alice")
    at = AppTest.from_file(APP, default_timeout=60)
    if enabled is not None:
        at.secrets["classroom"] = {"enabled": enabled}
    at.run()
    assert not at.exception
    assert len(at.error) == 1 and message in at.error[0].value and "will not start" in at.error[0].value
    assert not at.title, "no page ran"


@pytest.mark.parametrize("env, enabled, on", [("1", None, True), ("TRUE", None, True), (" on ", True, True),
                                             ("0", None, False), ("off", False, False), ("", None, False),
                                             (None, True, True), (None, False, False), (None, None, False)])
def test_readable_classroom_settings(env, enabled, on):
    from ui.access.mode import classroom_setting

    assert classroom_setting(env, enabled) is on


# ---- errors: one line, never a stack trace ------------------------------------------------------------------
def test_an_exception_on_a_page_shows_one_line_in_classroom_mode(monkeypatch):
    from streamlit import config

    import ui.runs

    def broken(*a, **k):
        raise RuntimeError("secret detail /srv/ae-lab/checkpoints\nTraceback (most recent call last)")

    monkeypatch.setattr(ui.runs, "runs", broken)
    monkeypatch.setenv("AE_LAB_CLASSROOM", "1")
    monkeypatch.setenv("AE_LAB_USER", "alice")
    at = AppTest.from_file(APP, default_timeout=120).run().switch_page("pages/inspect/compare.py").run()
    assert config.get_option("client.showErrorDetails") == "none"
    assert not at.exception
    assert len(at.error) == 1 and "Something went wrong on this page (RuntimeError)" in at.error[0].value
    assert "secret" not in at.error[0].value and "\n" not in at.error[0].value
    monkeypatch.setenv("AE_LAB_CLASSROOM", "0")  # local mode: the developer sees the exception itself
    at = AppTest.from_file(APP, default_timeout=120).run().switch_page("pages/inspect/compare.py").run()
    assert at.exception


# ---- deployment defaults -------------------------------------------------------------------------------
def test_local_mode_listens_on_this_machine_only_and_secrets_are_ignored_by_git():
    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert cfg["server"]["address"] == "127.0.0.1"
    assert "--server.address 0.0.0.0" in (ROOT / "docs" / "cluster.md").read_text()
    r = subprocess.run(["git", "check-ignore", "-q", ".streamlit/secrets.toml"], cwd=ROOT)
    assert r.returncode == 0, ".streamlit/secrets.toml must be git-ignored"


def test_the_server_does_not_collect_garbage_after_every_script_run():
    """Streamlit's default gc.collect() after each script run (fragments included) holds the GIL ~0.1 s with
    PyTorch loaded, and a class's polling pages then keep the whole server collecting (docs/cluster.md)."""
    code = "from streamlit import config; print(config.get_option('runner.postScriptGC'))"
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.stdout.strip().splitlines()[-1] == "False", r.stdout + r.stderr
