"""Named audit records for authentication, footage decisions, holds and grants."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from .log import append

ACTOR_MAX = 128


def _actor(name: str) -> str:
    """Untrusted names (a typed username) are cut to the column size and made printable."""
    return "".join(ch if ch.isprintable() else "?" for ch in name)[:ACTOR_MAX] or "?"


def record_login(session: Session, username: str, ok: bool, why: str, client: str | None,
                 role: str | None = None, method: str = "password") -> None:
    """One sign-in attempt, successful or not; `why` says which check failed."""
    append(session, actor=_actor(username), role=role, action="auth.login",
           decision="allow" if ok else "deny", client=client,
           detail={"method": method, "result": why})


def record_rejected_credentials(session: Session, kind: str, why: str,
                                client: str | None) -> None:
    """A request carrying a token or key that failed verification (forged, expired...)."""
    append(session, actor=f"?{kind}", action="auth.credentials", decision="deny", client=client,
           detail={"kind": kind, "result": why})


def record_access(session: Session, *, actor: str, role: str | None, action: str,
                  allowed: bool, camera_id: str | None, footage_start: datetime | None,
                  footage_end: datetime | None, reason: str | None, incident_id: int | None,
                  client: str | None, detail: dict[str, Any]) -> None:
    """One access decision on footage (or another audited action), allowed or denied."""
    append(session, actor=actor, role=role, action=action,
           decision="allow" if allowed else "deny", camera_id=camera_id,
           footage_start=footage_start, footage_end=footage_end, reason=reason,
           incident_id=incident_id, client=client, detail=detail)


def record_hold_change(session: Session, *, actor: str, role: str | None, op: str,
                       camera_id: str, start: datetime, end: datetime,
                       incident_id: int | None = None, hold_id: int | None = None,
                       reason: str | None = None) -> None:
    """A legal hold placed or released (op: "create" | "release"), in the caller's transaction."""
    append(session, actor=actor, role=role, action=f"hold.{op}", decision="info",
           camera_id=camera_id, footage_start=start, footage_end=end, reason=reason,
           incident_id=incident_id, detail={"hold": hold_id})
