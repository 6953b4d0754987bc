"""API keys for machine clients: format, hashing and scopes."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from .errors import InvalidRequest

KEY_PREFIX = "chk_"
# Keys are 256-bit random, so a plain SHA-256 is a safe and fast stored form; argon2's
# stretching only matters for guessable secrets such as passwords.
KEY_RE = re.compile(r"^chk_([a-z0-9]{8})_([A-Za-z0-9_-]{43})$")
SCOPE_RE = re.compile(r"^(deploy|health|alerts:[a-z0-9][a-z0-9_-]{0,62})$")
PLAIN_SCOPES = ("deploy", "health")


@dataclass(frozen=True)
class NewKey:
    """A freshly made key: the secret (shown once) and what is stored."""

    key: str
    prefix: str
    key_hash: str


def generate_key() -> NewKey:
    """A new random key with its lookup prefix and hash."""
    prefix = secrets.token_hex(4)
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    return NewKey(key=key, prefix=prefix, key_hash=hash_key(key))


def hash_key(key: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(key.encode()).hexdigest()


def parse_key(key: str) -> str | None:
    """The lookup prefix of a well-formed key, or None."""
    match = KEY_RE.match(key)
    return match.group(1) if match else None


def key_matches(key: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented key with a stored hash."""
    return hmac.compare_digest(hash_key(key), stored_hash)


def check_scope(scope: str, alert_sources: set[str] | None = None) -> str:
    """Return scope if valid: deploy, health or alerts:<source> of a configured source."""
    if not SCOPE_RE.match(scope):
        raise InvalidRequest(f"invalid scope {scope!r}; use deploy, health or alerts:<source-id>")
    source = scope.partition(":")[2]
    if source and alert_sources is not None and source not in alert_sources:
        raise InvalidRequest(f"unknown alert source {source!r} in scope")
    return scope


def scope_allows(scope: str, action: str) -> bool:
    """May a key of this scope take action? Exact match; alerts:<src> allows action alerts."""
    return scope == action or scope.partition(":")[0] == action != scope
