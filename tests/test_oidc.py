"""Sign-in end to end against a real OpenID provider: oidc-provider (tests/oidc/provider.mjs, OpenID Certified) on
127.0.0.1, the app served by `streamlit run` with an `[auth]` section as an operator writes it, driven in headless
Chromium through st.login and Authlib: discovery, the authorization code flow with PKCE, the provider's JWKS, the
ID token's claims, RP-initiated logout. Nothing listens or is reached beyond 127.0.0.1.

Needs node and the npm packages of package.json (`npm ci`, which scripts/test.sh runs).
Run: .venv/bin/python -m pytest tests/test_oidc.py -m e2e -q
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import secrets
import selectors
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_e2e import CHROMIUM, free_port, streamlit_app

from engine.core.presets import preset

ROOT = Path(__file__).resolve().parent.parent
PROVIDER = ROOT / "tests" / "oidc" / "provider.mjs"
NODE = shutil.which("node")
CLIENT_ID, CLIENT_SECRET = "ae-lab", secrets.token_hex(16)
COOKIE_SECRET = secrets.token_hex(32)
INSTRUCTOR = "prof@uni.test"  # verified for the account "instructor", unverified for "impostor"
BOOT_S = 120
USER_COOKIE = "_streamlit_user"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
    pytest.mark.skipif(NODE is None or not (ROOT / "node_modules" / "oidc-provider").is_dir(),
                       reason="needs node and the OpenID provider of package.json: `npm ci` (scripts/test.sh runs it)"),
]


@contextlib.contextmanager
def oidc_provider(redirect_uri: str, log: Path) -> Iterator[str]:
    """tests/oidc/provider.mjs with one client whose redirect URI is `redirect_uri`; yields its issuer URL."""
    env = {"PATH": os.environ.get("PATH", ""), "OIDC_REDIRECT_URI": redirect_uri, "OIDC_CLIENT_ID": CLIENT_ID,
           "OIDC_CLIENT_SECRET": CLIENT_SECRET}
    with open(log, "w") as err:
        proc = subprocess.Popen([NODE, str(PROVIDER)], cwd=ROOT, env=env, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=err, text=True)
    try:
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        assert sel.select(timeout=30), f"the provider did not start: {log.read_text()}"
        line = proc.stdout.readline()
        assert line, f"the provider exited: {log.read_text()}"
        issuer = json.loads(line)["issuer"]
        assert issuer.startswith("http://127.0.0.1:"), issuer
        yield issuer
    finally:
        proc.stdin.close()  # the provider stops when its stdin closes
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def write_secrets(path: Path, port: int, metadata_url: str) -> Path:
    """`.streamlit/secrets.toml` as docs/cluster.md tells an operator to write it, for the app on `port`."""
    path.write_text(f"""
[classroom]
enabled = true
instructors = ["{INSTRUCTOR}"]

[auth]
redirect_uri = "http://127.0.0.1:{port}/oauth2callback"
cookie_secret = "{COOKIE_SECRET}"
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
server_metadata_url = "{metadata_url}"
client_kwargs = {{ prompt = "login" }}
""")
    return path


@contextlib.contextmanager
def classroom_app(tmp: Path, metadata_url: str | None = None) -> Iterator[tuple[str, str | None]]:
    """The app in classroom mode with its secrets file, and (unless `metadata_url` is given) the provider;
    yields (app URL, issuer or None)."""
    port = free_port()
    with contextlib.ExitStack() as stack:
        issuer = None
        if metadata_url is None:
            issuer = stack.enter_context(oidc_provider(f"http://127.0.0.1:{port}/oauth2callback", tmp / "idp.log"))
            metadata_url = f"{issuer}/.well-known/openid-configuration"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AE_LAB_CLASSROOM", "AE_LAB_USER",
                                                                           "AE_LAB_INSTRUCTORS"))}
        env.update(AE_LAB_CHECKPOINTS=str(tmp / "checkpoints"),
                   STREAMLIT_SECRETS_FILES=str(write_secrets(tmp / "secrets.toml", port, metadata_url)))
        url = stack.enter_context(streamlit_app(tmp, env, port=port))
        yield url, issuer


def _tiny(seed: int):
    return preset("seed-vae", epochs=1, latent_dim=2, hidden=(32,), batch_size=16, dataset="synthetic", seed=seed)


@pytest.fixture(scope="module")
def class_server(tmp_path_factory):
    """The classroom app and its provider; the student and another student each trained one run already.
    Yields (app URL, issuer, {who: run id})."""
    from engine.jobs.classroom import ClassroomBackend, User
    from engine.jobs.embedded import EmbeddedBackend

    tmp = tmp_path_factory.mktemp("oidc")
    be = EmbeddedBackend(tmp / "checkpoints", max_jobs=1, warm=False, idle_s=5)
    try:
        ids = {}
        for seed, who in ((31, "email:student@uni.test"), (32, "email:other@uni.test")):
            ids[who] = ClassroomBackend(be, User(who)).submit(_tiny(seed))
            assert be.wait(ids[who], timeout=240).status == "completed"
    finally:
        be.shutdown()
    try:
        with classroom_app(tmp) as (url, issuer):
            yield url, issuer, ids
    finally:
        EmbeddedBackend(tmp / "checkpoints").shutdown()


def browser_context(chromium):
    """A fresh browser (no cookies) that reaches 127.0.0.1 only: the provider's development pages ask for a web
    font from the internet, and that request is aborted before it leaves."""
    ctx = chromium.new_context()
    ctx.route(re.compile(r"^(?!http://127\.0\.0\.1:)"), lambda route: route.abort())
    return ctx


def main_text(pg) -> str:
    return pg.inner_text("[data-testid=stMain]")


def wait_idle(pg) -> None:
    pg.wait_for_selector("[data-testid=stMain] h1", timeout=BOOT_S * 1000)
    time.sleep(0.5)
    pg.wait_for_selector("[data-testid=stStatusWidget]", state="hidden", timeout=BOOT_S * 1000)


def sign_in_page(pg) -> bool:
    """Is this the app's sign-in page (and nothing of the app)?"""
    wait_idle(pg)
    return ("AE & VAE lab — classroom" in main_text(pg) and pg.get_by_role("button", name="Log in").count() == 1
            and pg.get_by_text("Signed in as").count() == 0)


def sign_in(pg, url: str, issuer: str, login: str) -> str:
    """Log in through the provider's sign-in form; returns the sidebar's 'Signed in as …' line."""
    pg.goto(url)
    assert sign_in_page(pg)
    pg.get_by_role("button", name="Log in").click()
    pg.wait_for_url(f"{issuer}/interaction/**", timeout=60_000)  # the browser is at the provider now
    pg.fill("input[name=login]", login)
    pg.fill("input[name=password]", "any password")
    pg.get_by_role("button", name="Sign-in").click()
    pg.wait_for_url(f"{url}/**", timeout=60_000)
    line = pg.get_by_text("Signed in as")
    line.wait_for(timeout=BOOT_S * 1000)
    return line.inner_text()


def run_choices(pg, url: str) -> list[str]:
    """The runs the Runs page offers (its 'Run' select box), or [] when it has none."""
    pg.goto(f"{url}/Runs")
    pg.wait_for_selector("[data-testid=stMain] h1:has-text('Runs')", timeout=BOOT_S * 1000)
    wait_idle(pg)
    assert pg.locator("[data-testid=stException]").count() == 0
    if "No runs yet" in main_text(pg):
        return []
    pg.locator("[data-testid=stSelectbox]", has_text="Run").first.click()
    options = pg.get_by_role("option")
    options.first.wait_for(timeout=60_000)
    texts = options.all_inner_texts()
    pg.keyboard.press("Escape")  # the open list hides the rest of the page from the accessibility tree
    options.first.wait_for(state="detached", timeout=60_000)
    return texts


def ids_in(choices: list[str], ids: dict) -> set[str]:
    return {who for who, rid in ids.items() if any(rid[:6] in c for c in choices)}


def test_a_student_signs_in_and_sees_only_their_own_work(class_server, chromium):
    url, issuer, ids = class_server
    pg = browser_context(chromium).new_page()
    assert sign_in(pg, url, issuer, "student") == "Signed in as Stu Dent (student@uni.test) (student)"
    assert ids_in(run_choices(pg, url), ids) == {"email:student@uni.test"}
    assert pg.get_by_role("button", name="Save limits").count() == 0  # the class limits are read-only to students


def test_the_instructor_is_recognised_by_verified_email(class_server, chromium):
    url, issuer, ids = class_server
    pg = browser_context(chromium).new_page()
    assert sign_in(pg, url, issuer, "instructor") == "Signed in as Prof. Smith (prof@uni.test) (instructor)"
    assert ids_in(run_choices(pg, url), ids) == set(ids)  # an instructor sees every student's runs
    assert pg.get_by_role("button", name="Save limits").count() == 1  # and sets the class limits


def test_an_unverified_email_equal_to_the_instructors_is_a_student(class_server, chromium):
    url, issuer, ids = class_server
    pg = browser_context(chromium).new_page()
    assert sign_in(pg, url, issuer, "impostor") == f"Signed in as Prof. Smith (oidc:{issuer}#impostor) (student)"
    assert run_choices(pg, url) == []  # nobody's runs: this account trained none


def signed_cookie(payload: dict, secret: str, age_s: float = 0) -> str:
    """A login cookie as Streamlit signs it (itsdangerous, salted with the cookie's name), made `age_s` ago."""
    from itsdangerous import TimestampSigner, URLSafeTimedSerializer

    class Then(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time() - age_s)

    return URLSafeTimedSerializer(secret, salt=USER_COOKIE, signer=Then).dumps(json.dumps(payload))


def opened_with_cookie(chromium, url: str, value: str):
    """The app opened in a fresh browser that carries only the login cookie `value`."""
    ctx = browser_context(chromium)
    ctx.add_cookies([{"name": USER_COOKIE, "value": value, "url": url, "httpOnly": True, "sameSite": "Lax"}])
    pg = ctx.new_page()
    pg.goto(url)
    return pg


def test_a_tampered_or_expired_cookie_gets_the_sign_in_page(class_server, chromium):
    from itsdangerous import URLSafeTimedSerializer

    url, issuer, _ = class_server
    ctx = browser_context(chromium)
    sign_in(ctx.new_page(), url, issuer, "student")
    real = next(c["value"] for c in ctx.cookies() if c["name"] == USER_COOKIE)
    claims = json.loads(URLSafeTimedSerializer(COOKIE_SECRET, salt=USER_COOKIE).loads(real))
    assert claims["email"] == "student@uni.test" and claims["email_verified"] is True and claims["iss"] == issuer
    promoted = {**claims, "email": INSTRUCTOR, "name": "Prof. Smith"}
    body = base64.urlsafe_b64encode(json.dumps(json.dumps(promoted), separators=(",", ":")).encode()).rstrip(b"=")
    refused = {
        "the claims edited, the signature kept": ".".join([body.decode(), *real.split(".")[1:]]),
        "signed with another secret": signed_cookie(promoted, "not the app's cookie secret, but long enough"),
        "expired: signed with the app's secret 32 days ago": signed_cookie(claims, COOKIE_SECRET, age_s=32 * 86400),
        "not a signed value": "garbage",
    }
    # controls: the same test machinery gets in with a cookie the app itself would accept
    for value in (real, signed_cookie(claims, COOKIE_SECRET, age_s=86400)):
        pg = opened_with_cookie(chromium, url, value)
        pg.get_by_text("Signed in as").wait_for(timeout=BOOT_S * 1000)
        assert pg.get_by_text("Signed in as").inner_text() == "Signed in as Stu Dent (student@uni.test) (student)"
    for why, value in refused.items():
        assert sign_in_page(opened_with_cookie(chromium, url, value)), why


def test_signing_out_ends_the_session(class_server, chromium):
    url, issuer, _ = class_server
    ctx = browser_context(chromium)
    pg = ctx.new_page()
    sign_in(pg, url, issuer, "student")
    cookie = next(c["value"] for c in ctx.cookies() if c["name"] == USER_COOKIE)
    pg.get_by_role("button", name="Log out").click()
    # RP-initiated logout: the provider asks, ends its own session, and sends the browser back to the app
    pg.wait_for_url(f"{issuer}/session/end**", timeout=60_000)
    pg.get_by_role("button", name="Yes, sign me out").click()
    pg.wait_for_url(f"{url}/**", timeout=60_000)
    assert sign_in_page(pg)
    assert USER_COOKIE not in {c["name"] for c in ctx.cookies()}
    pg.reload()
    assert sign_in_page(pg)
    # a copy of the signed-out login's cookie (another tab, a stolen one) no longer gets in either
    copy = opened_with_cookie(chromium, url, cookie)
    assert sign_in_page(copy) and "This login was signed out" in main_text(copy)
    # and the provider's session is over: signing in again asks for the sign-in form, then works
    assert sign_in(pg, url, issuer, "student") == "Signed in as Stu Dent (student@uni.test) (student)"


def test_a_provider_that_is_down_gives_one_line(tmp_path, chromium):
    port = free_port()  # nothing listens there
    with classroom_app(tmp_path, metadata_url=f"http://127.0.0.1:{port}/.well-known/openid-configuration") as (url, _):
        pg = browser_context(chromium).new_page()
        pg.goto(url)
        assert sign_in_page(pg)
        pg.get_by_role("button", name="Log in").click()
        alert = pg.locator("[data-testid=stAlertContentError] [data-testid=stMarkdownContainer]")
        alert.wait_for(timeout=60_000)
        assert alert.inner_text() == (f"Sign-in is unavailable: the identity provider (127.0.0.1:{port}) is not "
                                      "answering. Try again in a minute; if it goes on, tell your instructor.")
        assert pg.url.rstrip("/") == url and pg.locator("[data-testid=stException]").count() == 0
        assert "Traceback" not in pg.content()


def test_a_stolen_forged_or_failed_callback_gets_the_sign_in_page(class_server, chromium):
    """The provider's redirect back to the app carries a one-time code bound to the browser that asked for it
    (OAuth state in its session cookie, PKCE): replayed elsewhere, made up, or an error, it signs nobody in."""
    url, issuer, _ = class_server
    pg = browser_context(chromium).new_page()
    seen: list[str] = []
    pg.on("request", lambda r: seen.append(r.url) if r.url.startswith(f"{url}/oauth2callback?") else None)
    sign_in(pg, url, issuer, "student")
    (stolen,) = [u for u in seen if "code=" in u]
    for attempt in (stolen, f"{url}/oauth2callback?code=made-up&state=made-up",
                    f"{url}/oauth2callback?error=access_denied&error_description=End-User+aborted"):
        ctx = browser_context(chromium)
        other = ctx.new_page()
        other.goto(attempt)
        assert sign_in_page(other), attempt
        assert USER_COOKIE not in {c["name"] for c in ctx.cookies()}, attempt
