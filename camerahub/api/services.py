"""Data access behind the routers: sign-in, camera listings, audit reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from camerahub import audit
from camerahub.authz import accounts
from camerahub.authz.accounts import Principal
from camerahub.authz.authorizer import Authorizer
from camerahub.authz.errors import NotAuthenticated
from camerahub.authz.grants import granted_cameras
from camerahub.authz.policy import VIEW_ACTIONS
from camerahub.authz.tokens import issue_media_token, issue_token
from camerahub.db import models as m
from camerahub.db.types import utcnow

from .state import AppState


@dataclass(frozen=True)
class IssuedToken:
    """A bearer token and its lifetime in seconds."""

    token: str
    expires_in: int


def sign_in(session: Session, state: AppState, username: str, password: str,
            client: str | None) -> IssuedToken:
    """Check the password (with lockout), audit the attempt, and issue a token."""
    result = accounts.login(session, state.passwords, state.settings.config.auth, username,
                            password)
    user = result.user
    audit.record_login(session, username, user is not None, result.why, client,
                       role=user.role if user else None)
    session.commit()
    if user is None:
        state.metrics.decision("login", "deny")
        raise NotAuthenticated(accounts.LOGIN_FAILED)
    state.metrics.decision("login", "allow")
    token = issue_token(state.settings.secret_key, user.id, user.token_version, utcnow(),
                        state.token_ttl)
    return IssuedToken(token, int(state.token_ttl.total_seconds()))


MEDIA_TOKEN_TTL = timedelta(minutes=10)


def issue_camera_media_token(session: Session, state: AppState, who: Principal,
                             camera_id: str) -> dict:
    """A media token for one camera, for a signed-in user (API keys never get footage)."""
    if who.kind != "user":
        raise NotAuthenticated("media tokens are for signed-in users")
    user = accounts.require_user(session, who.id)
    token = issue_media_token(state.settings.secret_key, user.id, user.token_version,
                              camera_id, utcnow(), MEDIA_TOKEN_TTL)
    return {"access_token": token, "token_type": "media", "camera_id": camera_id,
            "expires_in": int(MEDIA_TOKEN_TTL.total_seconds())}


def _camera_rows(session: Session, ids: set[str] | None = None) -> list[tuple]:
    room, div, dept = aliased(m.Area), aliased(m.Area), aliased(m.Area)
    stmt = (select(m.Camera, room, div, dept)
            .join(room, room.id == m.Camera.room_id)
            .outerjoin(div, div.id == room.parent_id)
            .outerjoin(dept, dept.id == div.parent_id)
            .order_by(m.Camera.site_id, m.Camera.id))
    if ids is not None:
        stmt = stmt.where(m.Camera.id.in_(sorted(ids)))
    return [tuple(row) for row in session.execute(stmt)]


def _camera_dict(cam: m.Camera, room: m.Area, div: m.Area | None, dept: m.Area | None,
                 actions: list[str]) -> dict[str, Any]:
    return {"id": cam.id, "name": cam.name, "site": cam.site_id, "room": room.id,
            "room_name": room.name, "division": div.id if div else None,
            "department": dept.id if dept else None, "actions": actions}


def _actions(authz: Authorizer, who: Principal, camera_id: str, granted: set[str]
             ) -> list[str]:
    acts = authz.permissions(who.id).get(camera_id, frozenset())
    found = set(acts)
    if camera_id in granted:
        found.add("playback")
    return sorted(a for a in found if a in VIEW_ACTIONS or a == "export")


def visible_cameras(session: Session, authz: Authorizer, who: Principal) -> list[dict]:
    """The cameras the caller may see, each with the footage actions it may take."""
    if who.kind != "user":
        return []
    granted = granted_cameras(session, who.id)
    ids = authz.visible_cameras(who.id) | (granted & authz.cameras)
    return [_camera_dict(*row, _actions(authz, who, row[0].id, granted))
            for row in _camera_rows(session, ids)]


def camera_detail(session: Session, authz: Authorizer, who: Principal, camera_id: str
                  ) -> dict[str, Any]:
    """One camera (the global dependency has already checked it is visible)."""
    granted = granted_cameras(session, who.id)
    rows = _camera_rows(session, {camera_id})
    return _camera_dict(*rows[0], _actions(authz, who, camera_id, granted))
