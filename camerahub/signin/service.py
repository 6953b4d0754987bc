"""Password sign-in (with lockout, audited) and the tokens it leads to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from camerahub import audit
from camerahub.authz import accounts
from camerahub.authz.accounts import Principal
from camerahub.authz.errors import NotAuthenticated
from camerahub.authz.passwords import Passwords
from camerahub.authz.tokens import issue_media_token, issue_token
from camerahub.config.services import Auth
from camerahub.db.engine import Sessions
from camerahub.db.types import utcnow

# Long enough to start a <video> or an HLS session; the page asks again for the next one.
MEDIA_TOKEN_TTL = timedelta(minutes=10)


@dataclass(frozen=True)
class IssuedToken:
    """A bearer token and its lifetime in seconds."""

    token: str
    expires_in: int


def token_ttl(auth: Auth) -> timedelta:
    """Lifetime of issued bearer tokens."""
    return timedelta(minutes=auth.token_ttl_minutes)


def sign_in(sessions: Sessions, passwords: Passwords, auth: Auth, secret_key: str,
            username: str, password: str, client: str | None) -> IssuedToken:
    """Check the password (with lockout), audit the attempt, and issue a token.

    The password is verified in a read-only transaction; only the failure count and the
    audit entry are written, in a transaction that takes the write lock up front (SQLite)
    and holds it for milliseconds, not for the hashing. NotAuthenticated, with one message
    for every cause, when the sign-in fails.
    """
    with sessions() as session:
        checked = accounts.verify_sign_in(session, passwords, username, password)
    with sessions.begin() as session:
        result = accounts.login(session, passwords, auth, username, password, checked=checked)
        user = result.user
        audit.record_login(session, username, user is not None, result.why, client,
                           role=user.role if user else None)
    if user is None:
        raise NotAuthenticated(accounts.LOGIN_FAILED)
    ttl = token_ttl(auth)
    token = issue_token(secret_key, user.id, user.token_version, utcnow(), ttl)
    return IssuedToken(token, int(ttl.total_seconds()))


def issue_camera_media_token(session: Session, secret_key: str, who: Principal,
                             camera_id: str) -> dict:
    """A media token for one camera, for a signed-in user (API keys never get footage)."""
    if who.kind != "user":
        raise NotAuthenticated("media tokens are for signed-in users")
    user = accounts.require_user(session, who.id)
    token = issue_media_token(secret_key, user.id, user.token_version, camera_id, utcnow(),
                              MEDIA_TOKEN_TTL)
    return {"access_token": token, "token_type": "media", "camera_id": camera_id,
            "expires_in": int(MEDIA_TOKEN_TTL.total_seconds())}
