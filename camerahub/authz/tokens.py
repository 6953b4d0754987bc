"""Short-lived HS256 bearer tokens and the checks on their signing secret."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from .errors import NotAuthenticated, WeakSecret

ALGORITHM = "HS256"
ISSUER = "camerahub"
MIN_SECRET_BYTES = 32
REQUIRED_CLAIMS = ["sub", "exp", "iat", "jti", "tv", "iss"]
# Values seen in examples, tutorials and our own docs; never acceptable outside demo mode.
KNOWN_DEFAULTS = frozenset({
    "changeme", "change-me", "change_me", "changethis", "secret", "secret-key", "secretkey",
    "camerahub", "camerahub-secret", "camerahub_secret_key", "development", "dev", "insecure",
    "please-change-me", "your-secret-key", "supersecret", "password", "test", "demo",
    "camerahub-demo-secret-key-do-not-use-in-production",
})


def check_secret(value: str | None, demo: bool = False) -> str | None:
    """Return value if it is a usable signing secret; raise WeakSecret (unless demo) if not."""
    problem = secret_problem(value)
    if problem and not demo:
        raise WeakSecret(f"token signing secret {problem}")
    return value


def secret_problem(value: str | None) -> str | None:
    """Why value is not a usable secret, or None."""
    if not value:
        return "is not set (auth.secret_env / auth.secret_file)"
    if value.strip().lower() in KNOWN_DEFAULTS or value.lower().startswith("changeme"):
        return "is a known default value"
    if len(value.encode()) < MIN_SECRET_BYTES:
        return f"is shorter than {MIN_SECRET_BYTES} bytes"
    if len(set(value)) < 8:
        return "has too little variety (fewer than 8 distinct characters)"
    return None


def ephemeral_secret() -> str:
    """A random secret for demo mode; tokens die with the process."""
    return secrets.token_urlsafe(48)


@dataclass(frozen=True)
class TokenClaims:
    """What a verified token says."""

    sub: str
    token_version: int
    jti: str
    issued_at: datetime
    expires_at: datetime
    media_camera: str | None = None  # set for a media token: the one camera it names


def issue_token(secret: str, user_id: str, token_version: int, now: datetime,
                ttl: timedelta) -> str:
    """A signed bearer token for user_id, valid for ttl from now."""
    claims = {"sub": user_id, "iat": int(now.timestamp()), "exp": int((now + ttl).timestamp()),
              "jti": uuid.uuid4().hex, "tv": token_version, "iss": ISSUER}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


MEDIA = "media"


def issue_media_token(secret: str, user_id: str, token_version: int, camera_id: str,
                      now: datetime, ttl: timedelta) -> str:
    """A token for media URLs (<video src>, HLS segments) of one camera only.

    Browsers cannot add an Authorization header to a media element's requests, so these
    travel in the query string; they are short-lived and name one camera. The API accepts
    them only there, only for GET of that camera's media URLs; the footage decision itself
    is made as usual, for the user who asked for the token.
    """
    claims = {"sub": user_id, "iat": int(now.timestamp()), "exp": int((now + ttl).timestamp()),
              "jti": uuid.uuid4().hex, "tv": token_version, "iss": ISSUER, "typ": MEDIA,
              "cam": camera_id}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(secret: str, token: str) -> TokenClaims:
    """The claims of a valid bearer or media token; NotAuthenticated for anything forged,
    expired or odd. Which of the two it is shows in `media_camera`; where each may be used
    is the caller's rule (camerahub.api.deps), not this function's.
    """
    try:
        data = jwt.decode(token, secret, algorithms=[ALGORITHM], issuer=ISSUER,
                          options={"require": REQUIRED_CLAIMS})
    except jwt.PyJWTError as exc:
        raise NotAuthenticated(f"invalid token: {type(exc).__name__}") from None
    return _claims(data)


def _claims(data: dict) -> TokenClaims:
    sub, tv, jti = data.get("sub"), data.get("tv"), data.get("jti")
    if not isinstance(sub, str) or not isinstance(tv, int) or not isinstance(jti, str):
        raise NotAuthenticated("invalid token: malformed claims")
    camera = None
    if data.get("typ") == MEDIA:
        camera = data.get("cam")
        if not isinstance(camera, str) or not camera:
            raise NotAuthenticated("invalid token: media token without its camera")
    elif "typ" in data or "cam" in data:
        raise NotAuthenticated("invalid token: unknown token type")
    return TokenClaims(sub=sub, token_version=tv, jti=jti,
                       issued_at=datetime.fromtimestamp(data["iat"], UTC),
                       expires_at=datetime.fromtimestamp(data["exp"], UTC),
                       media_camera=camera)
