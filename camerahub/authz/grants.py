"""Time-boxed grants: an incident lets a named user play named cameras for a footage range."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from camerahub import audit
from camerahub.db import models as m
from camerahub.db.types import utcnow

from . import changes
from .errors import InvalidRequest, UnknownAccount
from .policy import FOOTAGE_ACTIONS


def _check_times(footage_start: datetime, footage_end: datetime, expires_at: datetime,
                 now: datetime) -> None:
    for value in (footage_start, footage_end, expires_at):
        if value.tzinfo is None:
            raise InvalidRequest("grant times must be timezone-aware")
    if footage_end <= footage_start:
        raise InvalidRequest("grant footage range must end after it starts")
    if expires_at <= now:
        raise InvalidRequest("grant would already be expired")


def _check_targets(session: Session, user_id: str, camera_ids: list[str]) -> None:
    user = session.get(m.User, user_id)
    if user is None or not user.active:
        raise UnknownAccount(f"no active user {user_id!r}")
    known = set(session.scalars(select(m.Camera.id).where(m.Camera.id.in_(camera_ids))))
    missing = sorted(set(camera_ids) - known)
    if missing or not camera_ids:
        raise InvalidRequest(f"unknown cameras: {', '.join(missing) or '(none given)'}")


def create_grant(session: Session, *, user_id: str, camera_ids: Iterable[str],
                 footage_start: datetime, footage_end: datetime, expires_at: datetime,
                 created_by: str, incident_id: int | None = None, action: str = "playback",
                 now: datetime | None = None) -> list[m.Grant]:
    """Grant user_id `action` on each camera for [footage_start, footage_end] until expires_at.

    Runs in the caller's transaction and appends a `grant.create` audit entry. Nothing has to
    clean up later: decisions compare expires_at and the footage range at request time. Open
    sessions of the user are told once the transaction commits (authz.changes).
    """
    now, cams = now or utcnow(), list(dict.fromkeys(camera_ids))
    if action not in FOOTAGE_ACTIONS:
        raise InvalidRequest(f"grants cover footage actions only, not {action!r}")
    _check_times(footage_start, footage_end, expires_at, now)
    _check_targets(session, user_id, cams)
    rows = [m.Grant(incident_id=incident_id, user_id=user_id, camera_id=cam, action=action,
                    footage_start=footage_start, footage_end=footage_end,
                    expires_at=expires_at, created_by=created_by) for cam in cams]
    session.add_all(rows)
    session.flush()
    changes.on_commit(session, [user_id])
    audit.append(session, actor=created_by, action="grant.create", decision="info",
                 incident_id=incident_id, footage_start=footage_start, footage_end=footage_end,
                 detail={"user": user_id, "cameras": cams, "grant_action": action,
                         "expires_at": expires_at.isoformat(), "ids": [r.id for r in rows]})
    return rows


def revoke_grant(session: Session, grant_id: int, revoked_by: str) -> m.Grant:
    """End a grant now (audited); the user's open sessions re-decide once it commits."""
    row = session.get(m.Grant, grant_id)
    if row is None:
        raise InvalidRequest(f"no grant {grant_id}")
    row.revoked_at = row.revoked_at or utcnow()
    changes.on_commit(session, [row.user_id])
    audit.append(session, actor=revoked_by, action="grant.revoke", decision="info",
                 incident_id=row.incident_id, camera_id=row.camera_id,
                 detail={"grant": grant_id, "user": row.user_id})
    return row


def _live(now: datetime):
    return (m.Grant.expires_at > now) & (m.Grant.revoked_at.is_(None))


def covering_grant(session: Session, user_id: str, action: str, camera_id: str,
                   start: datetime | None, end: datetime | None,
                   now: datetime | None = None) -> m.Grant | None:
    """An unexpired, unrevoked grant whose footage range contains [start, end], or None.

    A live request names only its start (now): a grant covers it if its range holds now.
    """
    if start is None:
        return None
    end = start if end is None else end
    now = now or utcnow()
    stmt = (select(m.Grant).where(_live(now), m.Grant.user_id == user_id,
                                  m.Grant.camera_id == camera_id, m.Grant.action == action,
                                  m.Grant.footage_start <= start, m.Grant.footage_end >= end)
            .order_by(m.Grant.id).limit(1))
    return session.scalar(stmt)


def granted_cameras(session: Session, user_id: str, now: datetime | None = None) -> set[str]:
    """Cameras on which user_id holds any live grant (they are visible to the user)."""
    stmt = select(m.Grant.camera_id).where(_live(now or utcnow()), m.Grant.user_id == user_id)
    return set(session.scalars(stmt))


def granted_actions(session: Session, user_id: str, now: datetime | None = None
                    ) -> dict[str, set[str]]:
    """camera id -> the actions user_id holds a live grant for (playback, live, ...)."""
    stmt = select(m.Grant.camera_id, m.Grant.action).where(_live(now or utcnow()),
                                                           m.Grant.user_id == user_id)
    out: dict[str, set[str]] = {}
    for camera, action in session.execute(stmt):
        out.setdefault(camera, set()).add(action)
    return out
