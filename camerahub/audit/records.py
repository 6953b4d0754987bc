"""Named audit records for authentication, footage decisions, holds and grants."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy.orm import Session

from . import actors
from .log import append

ACTOR_MAX = 128
# What a typed username may be to name a user in the trail (the Id pattern of config).
USER_ID_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


def printable(name: str, limit: int = ACTOR_MAX) -> str:
    """Untrusted text (a typed username) cut to size and made printable."""
    return "".join(ch if ch.isprintable() else "?" for ch in name)[:limit]


def claimed_actor(username: str) -> str:
    """The actor of a sign-in attempt: user:<name> when it could be a user id, else anonymous.

    A typed name like "apikey:x" must not be recorded as if that key had acted.
    """
    return actors.user(username) if USER_ID_RE.fullmatch(username) else actors.ANONYMOUS


def record_login(session: Session, username: str, ok: bool, why: str, client: str | None,
                 role: str | None = None, method: str = "password") -> None:
    """One sign-in attempt, successful or not; `why` says which check failed."""
    detail = {"method": method, "result": why}
    actor = claimed_actor(username)
    if actor == actors.ANONYMOUS:
        detail["username"] = printable(username)
    append(session, actor=actor, role=role, action="auth.login",
           decision="allow" if ok else "deny", client=client, detail=detail)


def record_hold_change(session: Session, *, actor: str, role: str | None, op: str,
                       camera_id: str, start: datetime, end: datetime,
                       incident_id: int | None = None, hold_id: int | None = None,
                       reason: str | None = None) -> None:
    """A legal hold placed or released (op: "create" | "release"), in the caller's transaction."""
    append(session, actor=actor, role=role, action=f"hold.{op}", decision="info",
           camera_id=camera_id, footage_start=start, footage_end=end, reason=reason,
           incident_id=incident_id, detail={"hold": hold_id})
