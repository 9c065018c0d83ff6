"""Who a classroom user is, and which role they have. Pure Python (no torch, no Streamlit).

An identity is one string, made only from what the identity provider vouches for:
- `email:<address>` (lower case) when the login's ID token has `email_verified` true;
- `oidc:<iss>#<sub>` otherwise (the provider's issuer and its stable subject id);
- a login with neither is refused. A display name (`name`, `preferred_username`, ...) never makes an identity:
  anyone can call themselves "Prof. Smith".
Instructors are listed by identity: a plain e-mail `prof@uni.edu` stands for `email:prof@uni.edu`, so it matches
only a *verified* e-mail; `oidc:<iss>#<sub>` names one account exactly. A name with neither form (`teach`) is
a demo user from $AE_LAB_USER (classroom mode without a provider: tests and demos only).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

STUDENT, INSTRUCTOR = "student", "instructor"
ROLES = (STUDENT, INSTRUCTOR)
ENV_INSTRUCTORS = "AE_LAB_INSTRUCTORS"  # comma-separated identities (or e-mails) with the instructor role
MAX_LEN = 400  # an identity longer than this is no login we issued


class LoginRefused(ValueError):
    """The login does not say who the user is; the message (one line) says what to fix."""


@dataclass(frozen=True)
class User:
    name: str  # the identity (see the module docstring), never a display name
    role: str = STUDENT

    @property
    def instructor(self) -> bool:
        return self.role == INSTRUCTOR


def _text(v: object) -> str:
    return v.strip() if isinstance(v, str) else ""


def _verified(v: object) -> bool:
    return v is True or (isinstance(v, str) and v.strip().lower() == "true")  # some providers send "true"


def identity_of(claims: Mapping) -> str:
    """The identity of a logged-in OIDC user from their ID token's claims; LoginRefused if it has none."""
    email, iss, sub = _text(claims.get("email")), _text(claims.get("iss")), _text(claims.get("sub"))
    if email and _verified(claims.get("email_verified")):
        who = f"email:{email.lower()}"
    elif iss and sub:
        who = f"oidc:{iss}#{sub}"
    else:
        raise LoginRefused("your login did not say who you are (no verified e-mail and no subject id): "
                           "ask your instructor to check the identity provider (scopes 'openid email')")
    if len(who) > MAX_LEN or not who.isprintable():
        raise LoginRefused("your login's user id is not one this app accepts (too long or unprintable): "
                           "ask your instructor")
    return who


def canonical(name: str) -> str:
    """An identity or an instructors-list entry in the one form they are compared in."""
    n = name.strip()
    if n.lower().startswith("email:"):
        return "email:" + n[6:].strip().lower()
    if n.startswith("oidc:"):
        return n  # issuer and subject are case-sensitive
    return f"email:{n.lower()}" if "@" in n else n


def env_instructors() -> list[str]:
    return [n for n in os.environ.get(ENV_INSTRUCTORS, "").split(",") if n.strip()]


def role_of(name: str, instructors: Iterable[str] = ()) -> str:
    """instructor if identity `name` is in `instructors` or in $AE_LAB_INSTRUCTORS, else student."""
    listed = {canonical(n) for n in [*instructors, *env_instructors()] if isinstance(n, str) and n.strip()}
    return INSTRUCTOR if canonical(name) in listed else STUDENT
