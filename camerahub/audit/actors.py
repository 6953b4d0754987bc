"""Who did something, as the audit trail and incidents store it: always `<kind>:<id>`.

Every actor is typed, so a name can only ever match a name of its own kind: an API key named
like a user, or an alert source named like a manager, never passes for that person. User ids
follow the `Id` pattern of camerahub.config (no colon), so `user:<id>` parses back uniquely.
"""

from __future__ import annotations

USER = "user"
APIKEY = "apikey"
ALERT_SOURCE = "alert-source"
SYSTEM = "system"
ANONYMOUS = "anonymous"  # no valid credentials: the client address says who it was
KINDS = (USER, APIKEY, ALERT_SOURCE, SYSTEM, ANONYMOUS)
CLI = f"{SYSTEM}:cli"  # an operator at the command line (no person is signed in there)


def actor(kind: str, ident: str) -> str:
    """The typed actor string of one principal, e.g. user:tokatsu-koseki."""
    if kind not in KINDS or kind == ANONYMOUS:
        raise ValueError(f"unknown actor kind {kind!r}")
    return f"{kind}:{ident}"


def user(user_id: str) -> str:
    """The actor string of a person."""
    return actor(USER, user_id)


def parse(value: str) -> tuple[str, str]:
    """(kind, id) of an actor string; ("anonymous", "") for the anonymous actor."""
    if value == ANONYMOUS:
        return ANONYMOUS, ""
    kind, sep, ident = value.partition(":")
    if not sep or kind not in KINDS:
        raise ValueError(f"not a typed actor: {value!r}")
    return kind, ident


def as_filter(value: str) -> str:
    """An audit search term: a bare id means a person, a typed actor is taken as it is."""
    return value if value == ANONYMOUS or ":" in value else user(value)
