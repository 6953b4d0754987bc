"""Camera listings read from the inventory that `deploy apply` wrote (rooms and areas joined)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from camerahub.authz.accounts import Principal
from camerahub.authz.authorizer import Authorizer
from camerahub.authz.grants import granted_actions
from camerahub.authz.policy import VIEW_ACTIONS
from camerahub.db import models as m

from .health import camera_states


def _placed_cameras(with_state: bool = False, ids: set[str] | None = None):
    """SELECT camera, room, division, department (and state) in site, id order."""
    room, div, dept = aliased(m.Area), aliased(m.Area), aliased(m.Area)
    columns = (m.Camera, room, div, dept, m.Site) + ((m.CameraState,) if with_state else ())
    stmt = (select(*columns)
            .join(room, room.id == m.Camera.room_id)
            .join(m.Site, m.Site.id == m.Camera.site_id)
            .outerjoin(div, div.id == room.parent_id)
            .outerjoin(dept, dept.id == div.parent_id))
    if with_state:
        stmt = stmt.outerjoin(m.CameraState, m.CameraState.camera_id == m.Camera.id)
    if ids is not None:
        stmt = stmt.where(m.Camera.id.in_(sorted(ids)))
    return stmt.order_by(m.Camera.site_id, m.Camera.id)


def _placement(cam: m.Camera, room: m.Area, div: m.Area | None, dept: m.Area | None,
               site: m.Site) -> dict[str, Any]:
    """Where a camera is, with the display names from the YAML (the UI shows names)."""
    return {"id": cam.id, "name": cam.name, "site": cam.site_id, "site_name": site.name,
            "site_kind": site.kind, "floor": room.floor, "room": room.id,
            "room_name": room.name, "division": div.id if div else None,
            "division_name": div.name if div else None,
            "department": dept.id if dept else None,
            "department_name": dept.name if dept else None}


# --- operators (CLI): every camera with its state ------------------------------------------


def inventory_rows(session: Session) -> list[dict]:
    """Every camera joined with its room, division, department and state."""
    return [_with_state(*row) for row in session.execute(_placed_cameras(with_state=True))]


def _with_state(cam, room, div, dept, site, state) -> dict:
    return {
        **_placement(cam, room, div, dept, site), "address": cam.address, "port": cam.port,
        "state": state.status if state else "unknown",
        "last_seen": state.last_seen.isoformat() if state and state.last_seen else None,
        "recording": state.recording if state else "idle",
        "findings": state.findings if state else [],
    }


# --- a caller of the API: only the cameras it may see --------------------------------------


def _actions(authz: Authorizer, who: Principal, camera_id: str,
             granted: dict[str, set[str]]) -> list[str]:
    acts = authz.permissions(who.id).get(camera_id, frozenset())
    found = set(acts)
    if camera_id in granted:
        found.add("playback")
        found |= granted[camera_id]  # a live grant shows as live
    return sorted(a for a in found if a in VIEW_ACTIONS or a == "export")


def visible_cameras(session: Session, authz: Authorizer, who: Principal) -> list[dict]:
    """The cameras the caller may see, each with the footage actions it may take."""
    if who.kind != "user":
        return []
    granted = granted_actions(session, who.id)
    ids = authz.visible_cameras(who.id) | (set(granted) & authz.cameras)
    if not ids:
        return []
    states = camera_states(session, ids)
    return [{**_placement(*row), "actions": _actions(authz, who, row[0].id, granted),
             "health": states.get(row[0].id)}
            for row in session.execute(_placed_cameras(ids=ids))]


def camera_detail(session: Session, authz: Authorizer, who: Principal, camera_id: str
                  ) -> dict[str, Any]:
    """One camera (the caller's visibility of it is checked before, by the API)."""
    granted = granted_actions(session, who.id)
    row = session.execute(_placed_cameras(ids={camera_id})).first()
    return {**_placement(*row), "actions": _actions(authz, who, camera_id, granted),
            "health": camera_states(session, {camera_id}).get(camera_id)}


def all_cameras(session: Session) -> list[dict]:
    """Every camera with its placement and health (for ops: no footage action involved)."""
    states = camera_states(session)
    return [{**_placement(*row), "health": states.get(row[0].id)}
            for row in session.execute(_placed_cameras())]
