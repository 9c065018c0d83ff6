"""Who is using the app: a plain local mode by default, OIDC login (`st.login`) in classroom mode
(ui.access.mode says which; see docs/cluster.md for the `[auth]` settings).

In classroom mode the pages get a `ClassroomBackend`: each student sees only their own jobs; instructors
(listed in the class policy, `[classroom] instructors` or $AE_LAB_INSTRUCTORS) see all and set the limits.
Identity (engine.jobs.identity): a verified e-mail (`email:…`) or the provider's issuer + subject
(`oidc:…#…`); a login with neither is refused; the display name is shown, never used for access.
Pages call `current_user()` for (identity, role) and `try_user_backend()` for the backend as that user sees it.
The router calls `sidebar_user()` (the login gate) before any page runs.
"""

from __future__ import annotations

import getpass
import importlib.util
import logging
import os
import re

import streamlit as st

from engine.core.config import ConfigError
from engine.core.store import default_root
from engine.jobs import Backend, JobError
from engine.jobs.classroom import INSTRUCTOR, ClassroomBackend, Policy, User, role_of
from engine.jobs.identity import LoginRefused, canonical, identity_of

from ..backend import backend, plain_backend
from .mode import classroom_enabled, oidc_configured, provider, secrets
from .oidc import provider_down, record_sign_out, signed_out


def _policy() -> Policy:
    """The class policy in the checkpoint folder (both backends keep their store there)."""
    try:
        return Policy.load(default_root())
    except ConfigError as e:
        st.error(str(e))
        return Policy()


def _login_screen(note: str = "") -> None:
    """Ask for a login and stop the page until there is one. The provider is asked for its discovery document
    before the browser is sent to it: when it is down, one line here instead of Streamlit's bare error page."""
    st.title("AE & VAE lab — classroom")
    if any(importlib.util.find_spec(m) is None for m in ("authlib", "httpx")):
        st.error("Login needs the Authlib and httpx packages on the server: `pip install Authlib==1.9.6 "
                 "httpx==0.28.1`, then restart the app.")
        st.stop()
    st.write("Log in to train models; your runs are yours, and runs anyone in the class trained load instantly.")
    if note:
        st.info(note, icon=":material/logout:")
    name = provider()
    if st.button("Log in", type="primary"):
        down = provider_down(name)
        if down:
            st.error(down, icon=":material/cloud_off:")
        elif name:
            st.login(name)
        else:
            st.login()
    st.stop()


def current_user() -> tuple[str, str]:
    """(identity, role) of whoever is using this session; stops the page with a login screen if needed.

    Local mode: the OS user (or $AE_LAB_USER), role instructor — it is their own machine.
    Classroom mode: the identity of the OIDC login; role from the class policy / $AE_LAB_INSTRUCTORS / secrets.
    Without OIDC, classroom mode accepts $AE_LAB_USER (a one-user demo, tests) and refuses otherwise.
    """
    if not classroom_enabled():
        return os.environ.get("AE_LAB_USER") or _os_user(), INSTRUCTOR
    if oidc_configured():
        if not st.user.get("is_logged_in", False):
            _login_screen()
        claims = st.user.to_dict()
        try:
            name = identity_of(claims)
        except LoginRefused as e:
            st.error(f"Login refused: {e}.", icon=":material/lock:")
            if st.button("Log out"):
                st.logout()
            st.stop()
        if signed_out(name, claims):  # a copy of the login cookie of a session that signed out
            _login_screen("This login was signed out: log in again to continue.")
    elif os.environ.get("AE_LAB_USER", "").strip():
        name = canonical(os.environ["AE_LAB_USER"])
    else:
        st.error("Classroom mode needs a login: add an [auth] section to .streamlit/secrets.toml (docs/cluster.md).")
        st.stop()
    policy = _policy()
    extra = [n for n in secrets("classroom").get("instructors", []) if isinstance(n, str)]
    role = role_of(name, policy.model_copy(update={"instructors": policy.instructors + extra}))
    return name, role


def display_name() -> str:
    """What the sidebar calls the user: the provider's display name if any, else the identity (never used for
    access: anyone can choose their display name)."""
    name, _ = current_user()
    shown = st.user.get("name") if classroom_enabled() and oidc_configured() else None
    shown = "".join(c for c in shown if c.isprintable())[:60].strip() if isinstance(shown, str) else ""
    name = name.removeprefix("email:")  # a verified e-mail reads as itself
    return f"{shown} ({name})" if shown else name


def md_escape(text: str) -> str:
    """`text` shown literally in Markdown (a display name is whatever the user typed at their provider). `:` and
    `@` too: an identity like `oidc:http://host#sub` was turned into a link, and inside it the escapes showed."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!<>|~$:@])", r"\\\1", text)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user database in some containers
        return "local"


def user_backend() -> Backend:
    """The job backend as the current user sees it (the plain backend in local mode)."""
    if not classroom_enabled():
        return backend()
    name, role = current_user()
    return ClassroomBackend(backend(), User(name, role))


def try_user_backend() -> Backend | None:
    """user_backend(), or None after showing why background jobs are unavailable.

    Every page gets its backend here (classroom mode: only the user's own jobs, quotas)."""
    if not classroom_enabled():
        return plain_backend()
    name, role = current_user()  # may stop the page at the login screen
    b = plain_backend()
    return None if b is None else ClassroomBackend(b, User(name, role))


def visible_run_ids() -> set[str] | None:
    """Run ids the current user may open: None (all) in local mode and for instructors, else the
    student's own jobs (a shared preset run counts once they have submitted it)."""
    if not classroom_enabled():
        return None
    name, role = current_user()
    if role == INSTRUCTOR:
        return None
    b = plain_backend()
    if b is None:
        return set()
    try:
        return {j.job_id for j in ClassroomBackend(b, User(name, role)).jobs()}
    except JobError:
        return set()


def sidebar_user() -> None:
    """'Signed in as …' and a logout button in the sidebar (classroom mode only)."""
    if not classroom_enabled():
        return
    _, role = current_user()
    with st.sidebar:
        st.caption(f"Signed in as **{md_escape(display_name())}** ({role})")
        if oidc_configured() and st.button("Log out"):
            _sign_out()


def _sign_out() -> None:
    """End the session: this login's cookie (and copies of it) stop working here, then Streamlit's logout
    clears the cookie and signs out at the provider."""
    name, _ = current_user()
    try:
        record_sign_out(name, st.user.to_dict())
    except OSError as e:  # a full disk must not keep anyone signed in in this browser
        logging.getLogger(__name__).warning("could not record the sign-out of %s: %s", name, e)
    st.logout()


def limits_panel() -> None:
    """The class limits; instructors can change them (a form), students just read them."""
    if not classroom_enabled():
        return
    b = user_backend()
    p = b.policy
    st.subheader("Class limits")
    if not b.user.instructor:
        st.caption(f"Up to {p.max_jobs_per_student} jobs at a time, {p.max_epochs} epochs per job, "
                   f"{p.max_params:,} parameters per model; the class queue holds {p.max_queue} jobs.")
        return
    with st.form("class-limits"):
        jobs = st.number_input("Jobs per student (queued or running)", 1, 1000, p.max_jobs_per_student)
        epochs = st.number_input("Max epochs per job", 1, 1000, p.max_epochs)
        params = st.number_input("Max model parameters", 1, 100_000_000, p.max_params, step=100_000)
        queue = st.number_input("Class queue length (queued + running)", 1, 100_000, p.max_queue)
        if st.form_submit_button("Save limits"):
            try:
                b.set_policy(max_jobs_per_student=int(jobs), max_epochs=int(epochs), max_params=int(params),
                             max_queue=int(queue))
                st.success("Limits saved; they apply to the next job anyone submits.")
            except (ConfigError, JobError) as e:
                st.error(str(e))
