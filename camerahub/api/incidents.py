"""Incident visibility and the services behind the incident routes."""

from __future__ import annotations

import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from camerahub.authz.accounts import Principal
from camerahub.authz.authorizer import Authorizer
from camerahub.authz.errors import InvalidRequest, NotVisible, PermissionDenied
from camerahub.authz.policy import ROOT
from camerahub.config import Config, SecretMissing, SecretRef
from camerahub.config.users import SCOPED_ROLES
from camerahub.db import models as m
from camerahub.export import BundleError, build_bundle, load_private_key
from camerahub.incidents import IncidentService, Notifier

from .footage import footage_services

_lock = threading.Lock()


def _iso(value):
    return value.isoformat() if value else None


def in_area(session: Session, who: Principal, room_id: str) -> bool:
    """Is the room inside the caller's department or division?"""
    room = session.get(m.Area, room_id)
    if room is None or room.kind != "room" or not who.scope:
        return False
    division = session.get(m.Area, room.parent_id) if room.parent_id else None
    return who.scope in {room.parent_id, division.parent_id if division else None}


@dataclass
class IncidentApi:
    """IncidentService plus who may see and do what with incidents."""

    config: Config
    service: IncidentService

    def oversees(self, authz: Authorizer, who: Principal) -> bool:
        """Crisis-management sees and handles every incident."""
        return who.kind == "user" and authz.allowed(who.id, ROOT, "incident")

    def visible(self, session: Session, authz: Authorizer, who: Principal,
                state: str | None) -> list[dict]:
        """Incidents the caller oversees, opened, was granted, or whose room is in their area."""
        stmt = select(m.Incident).order_by(m.Incident.id.desc()).limit(500)
        if state:
            stmt = stmt.where(m.Incident.state == state)
        if not self.oversees(authz, who):
            granted = select(m.Grant.incident_id).where(m.Grant.user_id == who.id)
            stmt = stmt.where(or_(m.Incident.opened_by == who.id, m.Incident.id.in_(granted),
                                  m.Incident.room_id.in_(self._area_rooms(session, who))))
        return [self._summary(i) for i in session.scalars(stmt)]

    def _area_rooms(self, session: Session, who: Principal) -> list[str]:
        rooms = session.scalars(select(m.Area.id).where(m.Area.kind == "room"))
        return [r for r in rooms if in_area(session, who, r)]

    def detail(self, session: Session, authz: Authorizer, who: Principal,
               incident_id: int) -> dict:
        """One incident, or NotVisible when the caller takes no part in it."""
        incident = session.get(m.Incident, incident_id)
        if incident is None or not self._takes_part(session, authz, who, incident):
            raise NotVisible("incident not found")
        return {**self._summary(incident), **self._parts(session, authz, who, incident)}

    def _takes_part(self, session: Session, authz: Authorizer, who: Principal,
                    incident: m.Incident) -> bool:
        if self.oversees(authz, who) or incident.opened_by == who.id:
            return True
        granted = session.scalar(select(m.Grant.id).where(
            m.Grant.incident_id == incident.id, m.Grant.user_id == who.id).limit(1))
        return granted is not None or in_area(session, who, incident.room_id or "")

    def _parts(self, session: Session, authz: Authorizer, who: Principal,
               incident: m.Incident) -> dict:
        alerts = session.scalars(select(m.Alert).where(m.Alert.incident_id == incident.id))
        holds = session.scalars(select(m.Hold).where(m.Hold.incident_id == incident.id))
        grants = select(m.Grant).where(m.Grant.incident_id == incident.id)
        if not self.oversees(authz, who):
            grants = grants.where(m.Grant.user_id == who.id)
        return {
            "alerts": [{"source": a.source_id, "alert_id": a.alert_id, "rule": a.rule,
                        "employee": a.employee_id, "terminal": a.terminal_id,
                        "severity": a.severity, "text": a.text,
                        "window_start": _iso(a.window_start), "window_end": _iso(a.window_end),
                        "received_at": _iso(a.received_at)} for a in alerts],
            "holds": [{"camera": h.camera_id, "start": _iso(h.start), "end": _iso(h.end),
                       "released_at": _iso(h.released_at)} for h in holds],
            "grants": [{"user": g.user_id, "camera": g.camera_id,
                        "footage_start": _iso(g.footage_start),
                        "footage_end": _iso(g.footage_end), "expires_at": _iso(g.expires_at),
                        "revoked_at": _iso(g.revoked_at)} for g in session.scalars(grants)],
        }

    @staticmethod
    def _summary(i: m.Incident) -> dict:
        return {"id": i.id, "kind": i.kind, "state": i.state, "room": i.room_id,
                "employee": i.employee_id, "window_start": _iso(i.window_start),
                "window_end": _iso(i.window_end), "reason": i.reason, "outcome": i.outcome,
                "opened_by": i.opened_by, "created_at": _iso(i.created_at),
                "closed_at": _iso(i.closed_at)}

    def check_may_open(self, session: Session, authz: Authorizer, who: Principal,
                       room_id: str) -> None:
        """Crisis-management anywhere; a department head or manager in their own area."""
        if who.kind != "user":
            raise PermissionDenied("incidents are opened by people")
        if self.oversees(authz, who):
            return
        if who.role not in SCOPED_ROLES:
            raise PermissionDenied("incident is not permitted")
        if not in_area(session, who, room_id):
            raise NotVisible(f"unknown room {room_id!r}")

    def export(self, incident_id: int, who: Principal) -> Path:
        """Build a signed bundle into a temporary file and return its path."""
        key = load_private_key(self._signing_pem())
        out = Path(tempfile.mkdtemp(prefix="camerahub-export-")) / f"incident-{incident_id}.zip"
        try:
            with self.service.sessions.begin() as s:
                build_bundle(s, self.service.store, incident_id, who.id, key, out)
        except BundleError as exc:
            raise InvalidRequest(str(exc)) from None
        return out

    def _signing_pem(self) -> str:
        exp = self.config.export
        ref = (SecretRef(env=exp.signing_key_env) if exp.signing_key_env
               else SecretRef(file=exp.signing_key_file) if exp.signing_key_file else None)
        if ref is None:
            raise InvalidRequest("no export signing key is configured")
        try:
            value = ref.resolve()
        except SecretMissing as exc:
            raise InvalidRequest(f"export signing key unavailable: {exc}") from None
        return value if value.startswith("-----") else Path(value).read_text(encoding="utf-8")


def incident_api(request: Request) -> IncidentApi:
    """The app's IncidentApi, created on first use."""
    state = request.app.state
    with _lock:
        if getattr(state, "incidents", None) is None:
            cfg = state.camerahub.settings.config
            store = footage_services(request).store
            service = IncidentService(cfg, state.camerahub.sessions, Notifier(cfg.incidents),
                                      store)
            state.incidents = IncidentApi(cfg, service)
    return state.incidents
