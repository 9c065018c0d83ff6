"""What the real OpenID Connect flow needs besides `st.login`: a provider that is down gets one line before the
browser is sent away, and signing out ends the session for good.

- `provider_down(name)`: Streamlit sends the browser to its /auth/login route, which loads the provider's discovery
  document; when the provider does not answer, that route shows a bare "Authentication error" page. So the login
  button first fetches the discovery document itself (a few seconds at most) and, if it fails, says so in one line.
- Sign-out: Streamlit's login cookie is signed, not stored, so a copy of it (another tab's, a shared lab PC's
  browser profile, a stolen one) keeps working for its 30 days after the user signed out. `record_sign_out` notes
  the ID token's issue time (`iat`, the provider's clock) of the login that signed out, per identity, under
  `<checkpoints>/signouts/`; `signed_out(identity, claims)` is true for that login and any older one of the same
  identity, so they get the sign-in page again. A newer login (on another device, or signing in again) is unaffected.
"""

from __future__ import annotations

import hashlib
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlparse

from engine.core.store import default_root
from engine.data.files import read_json, write_json

from .mode import secrets

PROBE_TIMEOUT_S = 5.0
SIGNOUTS = "signouts"
log = logging.getLogger(__name__)


def metadata_url(provider: str | None) -> str:
    """The discovery URL `st.login(provider)` will use ([auth.<provider>] or the [auth] section's own)."""
    auth = secrets("auth")
    section = auth.get(provider) if provider else None
    url = (section if isinstance(section, Mapping) else auth).get("server_metadata_url", "")
    return url if isinstance(url, str) else ""


def provider_down(provider: str | None, timeout_s: float = PROBE_TIMEOUT_S) -> str | None:
    """None when the provider's discovery document loads, else one line for the user (details go to the log)."""
    url = metadata_url(provider)
    parts = urlparse(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ("Sign-in is not set up: the [auth] section of the server's secrets.toml needs server_metadata_url, "
                "the provider's https://…/.well-known/openid-configuration. Tell your instructor.")
    host = parts.netloc
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as r:  # noqa: S310 - the operator's https URL
            meta = json.loads(r.read(1_000_000))
        if not isinstance(meta, dict) or not meta.get("authorization_endpoint"):
            raise ValueError("no authorization_endpoint in the discovery document")
        return None
    except urllib.error.HTTPError as e:
        log.warning("OIDC discovery %s answered HTTP %s", url, e.code)
        why = f"answered with an error (HTTP {e.code})"
    except (OSError, ValueError) as e:  # refused, timed out, DNS, TLS; not JSON
        log.warning("OIDC discovery %s failed: %s", url, e)
        why = "is not answering" if isinstance(e, OSError) else "sent a reply this app cannot read"
    return (f"Sign-in is unavailable: the identity provider ({host}) {why}. Try again in a minute; "
            "if it goes on, tell your instructor.")


def _signout_file(identity: str, root: Path | None = None) -> Path:
    digest = hashlib.sha256(identity.encode()).hexdigest()[:32]
    return (root or default_root()) / SIGNOUTS / f"{digest}.json"


def _issued_at(claims: Mapping) -> float | None:
    iat = claims.get("iat")
    return float(iat) if isinstance(iat, (int, float)) and not isinstance(iat, bool) else None


def _last_sign_out(identity: str, root: Path | None = None) -> float | None:
    path = _signout_file(identity, root)
    try:
        at = read_json(path).get("iat")
    except FileNotFoundError:
        return None
    except (OSError, ValueError, AttributeError) as e:  # atomic writes make this a damaged disk, not a race
        log.warning("ignoring the unreadable sign-out note %s: %s", path, e)
        return None
    return float(at) if isinstance(at, (int, float)) and not isinstance(at, bool) else None


def record_sign_out(identity: str, claims: Mapping, root: Path | None = None) -> None:
    """Note that the login with these claims (and every older one of `identity`) has signed out."""
    iat = _issued_at(claims)
    if iat is None:
        return  # an ID token always has iat (Authlib checks it); nothing to compare against otherwise
    last = _last_sign_out(identity, root)
    write_json(_signout_file(identity, root), {"iat": max(iat, last or iat)})


def signed_out(identity: str, claims: Mapping, root: Path | None = None) -> bool:
    """Has this login (or a newer one of the same identity) signed out? A login without iat counts as signed out
    once its identity has signed out at all (fails closed; Authlib refuses ID tokens without iat anyway)."""
    last = _last_sign_out(identity, root)
    if last is None:
        return False
    iat = _issued_at(claims)
    return iat is None or iat <= last
