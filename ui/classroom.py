"""Is this the classroom instance? Read from the environment and `.streamlit/secrets.toml` only (no engine
import), so the router can decide at once whether it needs the login gate of ui.auth.

Classroom mode is on when $AE_LAB_CLASSROOM=1 or secrets.toml has `[classroom] enabled = true`; users then
log in through the OIDC provider of its `[auth]` section (see docs/cluster.md)."""

from __future__ import annotations

import os

import streamlit as st


def secrets(section: str) -> dict:
    """A section of secrets.toml, or {} when there is no secrets file or no such section."""
    try:
        return dict(st.secrets.get(section, {}) or {})
    except Exception:  # noqa: BLE001 - no secrets file at all
        return {}


def classroom_enabled() -> bool:
    env = os.environ.get("AE_LAB_CLASSROOM", "").strip().lower()
    if env:
        return env in ("1", "true", "yes", "on")
    return bool(secrets("classroom").get("enabled", False))


def oidc_configured() -> bool:
    return bool(secrets("auth"))


def provider() -> str | None:
    """The OIDC provider to log in with ($AE_LAB_AUTH_PROVIDER or `[classroom] provider`), None: the default."""
    return os.environ.get("AE_LAB_AUTH_PROVIDER") or secrets("classroom").get("provider") or None
