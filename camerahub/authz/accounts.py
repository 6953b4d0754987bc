"""Users and API keys in the database: sign-in with lockout, passwords, sessions, keys."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from camerahub.audit import actors
from camerahub.config.services import Auth
from camerahub.db import models as m
from camerahub.db.types import utcnow

from . import apikeys, changes
from .errors import NotAuthenticated, UnknownAccount
from .passwords import Passwords, check_password
from .tokens import TokenClaims

log = logging.getLogger(__name__)
ID_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")  # the Id pattern of camerahub.config
LOGIN_FAILED = "invalid username or password"  # one message for every failure: no oracle


class PrincipalKind(StrEnum):
    """The kinds of caller; each compares only with its own kind."""

    USER = "user"  # a person signed in with a bearer token
    APIKEY = "apikey"  # a machine client (scope deploy, health or alerts:<source>)
    MEDIA = "media"  # a person's media token: GET of one camera's media URLs only


@dataclass(frozen=True)
class Principal:
    """Who is calling: a signed-in user, a machine client with an API key, or a media token.

    `id` is a user id for USER and MEDIA, a key name for APIKEY; it means nothing without
    `kind`. Compare principals through `person` (user ids only) or `subject` (typed), never
    through `id` alone.
    """

    kind: str
    id: str
    role: str | None = None
    scope: str | None = None  # a user's area, or an API key's scope
    camera: str | None = None  # the one camera a media token is for

    @property
    def person(self) -> str | None:
        """The user id behind a user or media-token principal; None for an API key."""
        return self.id if self.kind in (PrincipalKind.USER, PrincipalKind.MEDIA) else None

    @property
    def subject(self) -> str:
        """The typed audit actor: user:<id> (also through a media token) or apikey:<name>."""
        if self.kind == PrincipalKind.APIKEY:
            return actors.actor(actors.APIKEY, self.id)
        return actors.user(self.id)

    @property
    def alert_source(self) -> str | None:
        """The alert source an `alerts:<source>` API key speaks for, else None."""
        if self.kind != PrincipalKind.APIKEY or not (self.scope or "").startswith("alerts:"):
            return None
        return (self.scope or "").partition(":")[2]


@dataclass(frozen=True)
class LoginResult:
    """The outcome of a password sign-in; `why` is for the audit trail only."""

    user: m.User | None
    why: str


def _lockout_state(user: m.User, now: datetime) -> str | None:
    if not user.active:
        return "user deactivated"
    if user.locked_until is not None and user.locked_until > now:
        return "account locked"
    if user.password_hash is None:
        return "no password set"
    return None


def verify_sign_in(session: Session, passwords: Passwords, username: str, password: str
                   ) -> PasswordCheck:
    """The argon2 verification alone, for a read-only transaction before login() writes.

    Hashing takes tens of milliseconds by design; done outside the write transaction it no
    longer holds SQLite's single write lock while the recorder and the audit wait for it.
    """
    user = session.get(m.User, username) if _plausible_id(username) else None
    # Always run one argon2 verification so that timing does not reveal which check failed.
    hashed = user.password_hash if user else None
    return PasswordCheck(hashed, passwords.verify(hashed, password))


@dataclass(frozen=True)
class PasswordCheck:
    """Whether a password matched, and the hash it was checked against."""

    password_hash: str | None
    matched: bool


def login(session: Session, passwords: Passwords, auth: Auth, username: str, password: str,
          now: datetime | None = None, checked: PasswordCheck | None = None) -> LoginResult:
    """Check a password; count failures and lock after auth.lockout_failures of them.

    `checked` is a verify_sign_in() result from before this (write) transaction; it counts
    only if the user's hash is still the one it was checked against.
    """
    now = now or utcnow()
    user = session.get(m.User, username) if _plausible_id(username) else None
    if checked is not None and user is not None and checked.password_hash == user.password_hash:
        matched = checked.matched
    else:
        matched = passwords.verify(user.password_hash if user else None, password)
    if user is None:
        return LoginResult(None, "unknown user")
    blocked = _lockout_state(user, now)
    if blocked:
        return LoginResult(None, blocked)
    if not matched:
        _record_failure(user, auth, now)
        return LoginResult(None, "wrong password")
    user.failed_logins, user.locked_until = 0, None
    return LoginResult(user, "ok")


def _plausible_id(username: str) -> bool:
    """Only a well-formed id is looked up; anything else cannot be a user (and may hold NUL)."""
    return ID_RE.fullmatch(username) is not None


def _record_failure(user: m.User, auth: Auth, now: datetime) -> None:
    user.failed_logins += 1
    if user.failed_logins >= auth.lockout_failures:
        user.locked_until = now + timedelta(minutes=auth.lockout_minutes)
        user.failed_logins = 0
        log.warning("user %s locked for %s minutes after failed sign-ins", user.id,
                    auth.lockout_minutes)


def user_from_token(session: Session, claims: TokenClaims) -> Principal:
    """The principal a verified token speaks for; refused if deactivated or revoked.

    A media token gives a MEDIA principal bound to its camera, never a USER one.
    """
    user = session.get(m.User, claims.sub) if _plausible_id(claims.sub) else None
    if user is None or not user.active or user.token_version != claims.token_version:
        raise NotAuthenticated("token no longer valid")
    if claims.media_camera is not None:
        return Principal(PrincipalKind.MEDIA, user.id, user.role, user.scope,
                         camera=claims.media_camera)
    return Principal(PrincipalKind.USER, user.id, user.role, user.scope)


def require_user(session: Session, user_id: str) -> m.User:
    """The user row, or UnknownAccount."""
    user = session.get(m.User, user_id)
    if user is None:
        raise UnknownAccount(f"no user {user_id!r} (users come from the deployment file)")
    return user


def set_password(session: Session, passwords: Passwords, auth: Auth, user_id: str,
                 password: str) -> m.User:
    """Check the policy, store the argon2 hash, unlock, and end existing sessions."""
    user = require_user(session, user_id)
    if not user.active:
        raise UnknownAccount(f"user {user_id!r} is deactivated")
    check_password(password, auth.password_min_length, auth.password_classes)
    user.password_hash = passwords.hash(password)
    user.password_changed_at = utcnow()
    user.failed_logins, user.locked_until = 0, None
    user.token_version += 1
    return user


def revoke_sessions(session: Session, user_id: str) -> m.User:
    """Invalidate every token issued to user_id so far (bumps token_version)."""
    user = require_user(session, user_id)
    user.token_version += 1
    changes.on_commit(session, [user_id])
    return user


def create_api_key(session: Session, name: str, scope: str,
                   alert_sources: set[str] | None = None) -> tuple[m.ApiKey, str]:
    """Store a new key's hash; return the row and the key itself (shown once)."""
    apikeys.check_scope(scope, alert_sources)
    if session.scalar(select(m.ApiKey).where(m.ApiKey.name == name)) is not None:
        raise UnknownAccount(f"an API key named {name!r} already exists")
    new = apikeys.generate_key()
    row = m.ApiKey(name=name, scope=scope, prefix=new.prefix, key_hash=new.key_hash)
    session.add(row)
    session.flush()
    return row, new.key


def revoke_api_key(session: Session, name: str) -> m.ApiKey:
    """Mark a key revoked; it stops working on the next request."""
    row = session.scalar(select(m.ApiKey).where(m.ApiKey.name == name))
    if row is None:
        raise UnknownAccount(f"no API key named {name!r}")
    row.revoked_at = row.revoked_at or utcnow()
    return row


def principal_from_key(session: Session, key: str) -> Principal:
    """The principal of a valid, unrevoked API key (reads only; see note_key_used)."""
    prefix = apikeys.parse_key(key)
    rows = session.scalars(select(m.ApiKey).where(m.ApiKey.prefix == prefix)) if prefix else ()
    for row in rows:
        if row.revoked_at is None and apikeys.key_matches(key, row.key_hash):
            return Principal(PrincipalKind.APIKEY, row.name, None, row.scope)
    raise NotAuthenticated("invalid API key")


def note_key_used(session: Session, name: str) -> None:
    """Stamp an API key's last_used_at (in the caller's write transaction)."""
    row = session.scalar(select(m.ApiKey).where(m.ApiKey.name == name))
    if row is not None:
        row.last_used_at = utcnow()
