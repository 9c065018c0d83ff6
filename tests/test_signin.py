"""The parts of sign-in that tests/test_oidc.py drives end to end, checked here one by one and quickly: the
provider probe behind the Log in button (down, erroring, answering nonsense, slow, fine) and the sign-out notes
that stop a copied cookie of a signed-out login (same login, older, newer, another user, no iat, a damaged note)."""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from test_e2e import free_port

import ui.access.oidc as oidc

ISS = "https://idp.example"
CLAIMS = {"iss": ISS, "sub": "s-1", "email": "stu@uni.edu", "email_verified": True, "iat": 1_800_000_000}


@contextlib.contextmanager
def answering(status: int, body: bytes, delay_s: float = 0.0) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 that answers every GET with `status` and `body` (after `delay_s`)."""
    stop = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server API
            stop.wait(delay_s)
            self.send_response(status)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    class Server(http.server.ThreadingHTTPServer):
        def handle_error(self, request, client_address):
            pass  # the slow answer's client has gone (timed out): that is the point, not an error to print

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/openid-configuration"
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def _probe(monkeypatch, url: str, provider: str | None = None, timeout_s: float = 5.0) -> str | None:
    auth = {"uni": {"server_metadata_url": url}} if provider else {"server_metadata_url": url}
    monkeypatch.setattr(oidc, "secrets", lambda section: auth if section == "auth" else {})
    return oidc.provider_down(provider, timeout_s=timeout_s)


def test_a_provider_that_answers_its_discovery_document_is_up(monkeypatch):
    with answering(200, json.dumps({"issuer": ISS, "authorization_endpoint": f"{ISS}/auth"}).encode()) as url:
        assert _probe(monkeypatch, url) is None
        assert _probe(monkeypatch, url, provider="uni") is None  # [auth.uni] server_metadata_url


@pytest.mark.parametrize("status, body, delay_s, why", [
    (None, b"", 0, "is not answering"),  # nothing listens
    (503, b"maintenance", 0, "answered with an error (HTTP 503)"),
    (404, b"{}", 0, "answered with an error (HTTP 404)"),
    (200, b"<html>a login portal</html>", 0, "sent a reply this app cannot read"),
    (200, b'{"issuer": "x"}', 0, "sent a reply this app cannot read"),  # no authorization_endpoint
    (200, b"[]", 0, "sent a reply this app cannot read"),
    (200, b"{}", 3.0, "is not answering"),  # slower than the timeout
])
def test_a_provider_that_is_down_is_one_line_naming_its_host(status, body, delay_s, why, monkeypatch):
    with contextlib.ExitStack() as stack:
        url = (f"http://127.0.0.1:{free_port()}/.well-known/openid-configuration" if status is None
               else stack.enter_context(answering(status, body, delay_s)))
        line = _probe(monkeypatch, url, timeout_s=1.0)
    host = url.split("/")[2]
    assert line == (f"Sign-in is unavailable: the identity provider ({host}) {why}. Try again in a minute; "
                    "if it goes on, tell your instructor.")


@pytest.mark.parametrize("url", ["", "login.uni.edu/.well-known/openid-configuration", "file:///etc/passwd"])
def test_a_discovery_url_that_is_not_one_says_what_to_set(url, monkeypatch):
    assert _probe(monkeypatch, url) == ("Sign-in is not set up: the [auth] section of the server's secrets.toml "
                                        "needs server_metadata_url, the provider's https://…/.well-known/"
                                        "openid-configuration. Tell your instructor.")


# ---- sign-out -----------------------------------------------------------------------------------------------
def test_a_sign_out_ends_that_login_and_older_ones_of_the_same_user(tmp_path: Path):
    who, iat = "email:stu@uni.edu", CLAIMS["iat"]
    assert not oidc.signed_out(who, CLAIMS, tmp_path)
    oidc.record_sign_out(who, CLAIMS, tmp_path)
    assert oidc.signed_out(who, CLAIMS, tmp_path)  # a copy of the cookie of the login that signed out
    assert oidc.signed_out(who, {**CLAIMS, "iat": iat - 3600}, tmp_path)  # an older login (another device)
    assert not oidc.signed_out(who, {**CLAIMS, "iat": iat + 1}, tmp_path)  # signing in again
    assert not oidc.signed_out("email:other@uni.edu", CLAIMS, tmp_path)
    oidc.record_sign_out(who, {**CLAIMS, "iat": iat - 60}, tmp_path)  # an older device signs out later
    assert oidc.signed_out(who, CLAIMS, tmp_path), "the later, older sign-out must not revive the newer one"
    assert oidc.signed_out(who, {k: v for k, v in CLAIMS.items() if k != "iat"}, tmp_path)  # fails closed
    for bad_iat in ("1800000001", True, None):
        assert oidc.signed_out(who, {**CLAIMS, "iat": bad_iat}, tmp_path)


def test_sign_out_notes_name_no_one_and_a_damaged_one_is_ignored(tmp_path: Path):
    who = "email:stu@uni.edu"
    oidc.record_sign_out(who, {k: v for k, v in CLAIMS.items() if k != "iat"}, tmp_path)  # nothing to note
    assert not (tmp_path / oidc.SIGNOUTS).exists()
    oidc.record_sign_out(who, CLAIMS, tmp_path)
    (note,) = (tmp_path / oidc.SIGNOUTS).iterdir()
    assert "stu" not in note.name and "stu@uni.edu" not in note.read_text()
    note.write_text("{damaged")
    assert not oidc.signed_out(who, CLAIMS, tmp_path)


# ---- through the app's login gate (AppTest: Streamlit's test double for st.user) -----------------------------
def _gate():
    import streamlit as st

    from ui.access.auth import current_user

    name, role = current_user()
    st.write(f"user={name} role={role}")


def _app(monkeypatch, url: str, user: dict) -> AppTest:
    monkeypatch.setenv("AE_LAB_CLASSROOM", "1")
    at = AppTest.from_function(_gate, default_timeout=30)
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32,
                          "client_id": "id", "client_secret": "s", "server_metadata_url": url}
    at.user = user
    return at.run()


def test_the_log_in_button_says_when_the_provider_is_down(monkeypatch):
    from streamlit import config

    before = config.get_option("client.showErrorDetails")
    try:
        url = f"http://127.0.0.1:{free_port()}/.well-known/openid-configuration"
        at = _app(monkeypatch, url, {"is_logged_in": False})
        assert [b.label for b in at.button] == ["Log in"] and not at.error
        at.button[0].click().run()
        assert not at.exception and not any("user=" in m.value for m in at.markdown)  # the page never ran
        assert [e.value for e in at.error] == [f"Sign-in is unavailable: the identity provider ({url.split('/')[2]}) "
                                               "is not answering. Try again in a minute; if it goes on, tell your "
                                               "instructor."]
    finally:
        config.set_option("client.showErrorDetails", before)


def test_a_signed_out_login_gets_the_login_screen(monkeypatch):
    from engine.core.store import default_root

    oidc.record_sign_out("email:stu@uni.edu", CLAIMS, default_root())
    at = _app(monkeypatch, "http://127.0.0.1:9/x", {"is_logged_in": True, **CLAIMS})
    assert not at.exception and [b.label for b in at.button] == ["Log in"]
    assert [i.value for i in at.info] == ["This login was signed out: log in again to continue."]
    assert not any("user=" in m.value for m in at.markdown)
    at = _app(monkeypatch, "http://127.0.0.1:9/x", {"is_logged_in": True, **CLAIMS, "iat": CLAIMS["iat"] + 5})
    assert not at.exception and any("user=email:stu@uni.edu role=student" in m.value for m in at.markdown)
