"""Is this the classroom instance? Read from the environment and `.streamlit/secrets.toml` only (no engine
import), so the router can decide at once whether it needs the login gate of ui.access.auth.

Classroom mode is on when $AE_LAB_CLASSROOM is 1/true/yes/on or secrets.toml has `[classroom] enabled = true`.
It fails closed: any other value of either (`enabled`, `Y`, a string "true" in the TOML), or the two disagreeing
(the variable says off, the secrets say on), stops every page with one line saying what to fix. Users then
log in through the OIDC provider of the `[auth]` section (see docs/cluster.md)."""

from __future__ import annotations

import os

import streamlit as st

ON, OFF = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
ENV = "AE_LAB_CLASSROOM"


class SettingError(ValueError):
    """A classroom setting this app cannot read; the message (one line) says what to write instead."""


def secrets(section: str) -> dict:
    """A section of secrets.toml, or {} when there is no secrets file or no such section."""
    try:
        return dict(st.secrets.get(section, {}) or {})
    except Exception:  # noqa: BLE001 - no secrets file at all
        return {}


def classroom_setting(env: str | None, enabled: object) -> bool:
    """Classroom mode from $AE_LAB_CLASSROOM (`env`, None or "" when unset) and secrets' `[classroom] enabled`
    (None when absent); SettingError for a value that is neither on nor off, or for the two disagreeing."""
    word = (env or "").strip().lower()
    if word and word not in ON + OFF:
        raise SettingError(f"{ENV}={(env or '')[:20]!r} is not understood: set it to 1 (classroom mode) or 0 "
                           "(local mode), or unset it")
    if enabled is not None and not isinstance(enabled, bool):
        raise SettingError("[classroom] enabled in .streamlit/secrets.toml must be true or false (no quotes), "
                           f"got {str(enabled)[:20]!r}")
    if word in OFF and enabled is True:
        raise SettingError(f"{ENV}={env} but .streamlit/secrets.toml has [classroom] enabled = true: make them agree")
    return word in ON or enabled is True


def classroom_enabled() -> bool:
    """Is classroom mode on? Stops the page with one line when the settings cannot be read (fails closed)."""
    try:
        return classroom_setting(os.environ.get(ENV), secrets("classroom").get("enabled"))
    except SettingError as e:
        st.error(f"The app is not set up correctly, so it will not start: {e}.", icon=":material/lock:")
        st.stop()
        raise  # st.stop() raised already; this keeps type checkers (and a stub st) honest


def oidc_configured() -> bool:
    return bool(secrets("auth"))


def provider() -> str | None:
    """The OIDC provider to log in with ($AE_LAB_AUTH_PROVIDER or `[classroom] provider`), None: the default."""
    return os.environ.get("AE_LAB_AUTH_PROVIDER") or secrets("classroom").get("provider") or None
