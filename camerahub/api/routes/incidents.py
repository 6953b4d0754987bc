"""Log alerts in (API key), incidents for the people responsible, holds and evidence export.

Who may see or open an incident is decided in camerahub.authz.incidents; reading and
changing incidents is camerahub.incidents; this module speaks HTTP and shapes the JSON.
"""

from __future__ import annotations

from datetime import UTC
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask

from camerahub import audit
from camerahub.authz.accounts import Principal, PrincipalKind
from camerahub.authz.authorizer import Authorizer
from camerahub.authz.errors import InvalidRequest, NotVisible, PermissionDenied
from camerahub.authz.incidents import check_may_move
from camerahub.config.users import Role
from camerahub.db import models as m
from camerahub.errors import ErrorKind as K
from camerahub.incidents import (
    AlertIn,
    IncidentParts,
    IncidentService,
    ManualIncidentIn,
    TransitionIn,
    incident_for,
    incident_parts,
    visible_incidents,
)
from camerahub.incidents.evidence import remove_bundle
from camerahub.times import out_of_range, wire_time

from .. import openapi as doc
from ..access import authenticated, requires
from ..auditing import draft_of
from ..deps import (
    AuthorizerDep,
    CurrentPrincipal,
    SessionDep,
    WriteSessionDep,
    app_state,
    client_of,
    recorded_by_service,
)
from ..params import IncidentId

router = APIRouter(tags=["incidents"])


def incident_service(request: Request) -> IncidentService:
    """The IncidentService the composition root built for this app."""
    return app_state(request).incidents


ServiceDep = Annotated[IncidentService, Depends(incident_service)]
State = Annotated[Literal["open", "reviewing", "closed"] | None, Query()]
BODY = (K.INVALID, K.UNAUTHENTICATED, K.TOO_LARGE)  # every route that takes JSON


# --- response shapes -----------------------------------------------------------------------


def incident_summary(i: m.Incident) -> dict[str, Any]:
    """An incident as listed."""
    return {"id": i.id, "kind": i.kind, "state": i.state, "room": i.room_id,
            "employee": i.employee_id, "window_start": wire_time(i.window_start),
            "window_end": wire_time(i.window_end), "reason": i.reason, "outcome": i.outcome,
            "opened_by": i.opened_by, "created_at": wire_time(i.created_at),
            "closed_at": wire_time(i.closed_at)}


def incident_detail(i: m.Incident, parts: IncidentParts) -> dict[str, Any]:
    """An incident with its alerts, holds and the grants the caller may see."""
    return {
        **incident_summary(i),
        "alerts": [{"source": a.source_id, "alert_id": a.alert_id, "rule": a.rule,
                    "employee": a.employee_id, "terminal": a.terminal_id,
                    "severity": a.severity, "text": a.text,
                    "window_start": wire_time(a.window_start),
                    "window_end": wire_time(a.window_end),
                    "received_at": wire_time(a.received_at)} for a in parts.alerts],
        "holds": [{"camera": h.camera_id, "start": wire_time(h.start), "end": wire_time(h.end),
                   "released_at": wire_time(h.released_at)} for h in parts.holds],
        "grants": [{"user": g.user_id, "camera": g.camera_id,
                    "footage_start": wire_time(g.footage_start),
                    "footage_end": wire_time(g.footage_end),
                    "expires_at": wire_time(g.expires_at),
                    "revoked_at": wire_time(g.revoked_at)}
                   for g in parts.grants],
    }


def _names(session: Session, incident: m.Incident, body: dict[str, Any]) -> dict[str, Any]:
    """The names a person reads instead of ids: room, its cameras, its managers, people."""
    room = session.get(m.Area, incident.room_id) if incident.room_id else None
    division = session.get(m.Area, room.parent_id) if room and room.parent_id else None
    scopes = [a.id for a in (division,) if a] + ([division.parent_id]
                                                  if division and division.parent_id else [])
    users = dict(session.execute(select(m.User.id, m.User.name)).all())
    cameras = session.execute(select(m.Camera.id, m.Camera.name)
                              .where(m.Camera.room_id == incident.room_id)
                              .order_by(m.Camera.id)).all() if room else []
    managers = session.execute(
        select(m.User.id, m.User.name, m.User.role)
        .where(m.User.scope.in_(scopes), m.User.active.is_(True))
        .order_by(m.User.role, m.User.id)).all() if scopes else []
    camera_names = dict(session.execute(select(m.Camera.id, m.Camera.name)).all())
    kind, _, ident = incident.opened_by.partition(":")
    body["names"] = {
        "room": room.name if room else None,
        "division": division.name if division else None,
        "opened_by": users.get(ident) if kind == "user" else None,
        "managers": [{"id": u, "name": n, "role": r} for u, n, r in managers],
    }
    body["cameras"] = [{"id": c, "name": n} for c, n in cameras]
    for grant in body["grants"]:
        grant["user_name"] = users.get(grant["user"])
        grant["camera_name"] = camera_names.get(grant["camera"])
    for hold in body["holds"]:
        hold["camera_name"] = camera_names.get(hold["camera"])
    return body


def _detail(session: Session, authz: Authorizer, who: Principal,
            incident_id: int) -> dict[str, Any]:
    """One incident as the caller may see it, with names; NotVisible (404) if they take no
    part."""
    incident = incident_for(session, authz, who, incident_id)
    body = incident_detail(incident, incident_parts(session, authz, who, incident))
    return _names(session, incident, body)


# --- routes --------------------------------------------------------------------------------


@router.post("/alerts", status_code=202,
             responses=doc.responses(*BODY, K.FORBIDDEN,
                                     ok={200: {"description": "A duplicate alert"}}))
@requires("alerts")
def post_alert(alert: AlertIn, who: CurrentPrincipal, service: ServiceDep, request: Request):
    """A log alert from an alert source's API key; duplicates are idempotent."""
    source = who.alert_source
    if source is None:
        raise PermissionDenied("only an alert source's API key may post alerts")
    result = service.ingest_alert(source, alert, client_of(request))
    body = {"alert": alert.alert_id, "incident_id": result.incident_id,
            "duplicate": result.duplicate, "joined": result.joined, "flags": result.flags}
    return JSONResponse(body, status_code=200 if result.duplicate else 202)


@router.get("/incidents", responses=doc.responses(K.UNAUTHENTICATED))
@authenticated
def list_incidents(who: CurrentPrincipal, authz: AuthorizerDep, session: SessionDep,
                   state: State = None) -> list[dict]:
    """Incidents the caller takes part in (crisis-management: all), with room and opener
    names."""
    rooms = dict(session.execute(select(m.Area.id, m.Area.name)).all())
    users = dict(session.execute(select(m.User.id, m.User.name)).all())
    out = []
    for i in visible_incidents(session, authz, who, state):
        item = incident_summary(i)
        kind, _, ident = i.opened_by.partition(":")
        item["room_name"] = rooms.get(i.room_id or "")
        item["opened_by_name"] = users.get(ident) if kind == "user" else None
        out.append(item)
    return out


@router.get("/incidents/{incident_id}",
            responses=doc.responses(K.UNAUTHENTICATED, K.NOT_FOUND))
@authenticated
def get_incident(incident_id: IncidentId, who: CurrentPrincipal, authz: AuthorizerDep,
                 session: SessionDep) -> dict:
    """One incident with its alerts, holds and grants; 404 if the caller takes no part."""
    return _detail(session, authz, who, incident_id)


@router.post("/incidents", status_code=201,
             responses=doc.responses(*BODY, K.FORBIDDEN, K.NOT_FOUND))
@authenticated
def open_incident(req: ManualIncidentIn, who: CurrentPrincipal, authz: AuthorizerDep,
                  session: SessionDep, service: ServiceDep, request: Request) -> dict:
    """Open an incident by hand with a written reason (holds and grants follow).

    In incident mode a manager's incident is pending_approval: held, granted on approval.
    """
    incident = service.open_manual(who, authz, req, client_of(request))
    session.rollback()  # end this request's read snapshot: the incident was written elsewhere
    return _detail(session, authz, who, incident.id)


@router.post("/incidents/{incident_id}/state",
             responses=doc.responses(*BODY, K.FORBIDDEN, K.NOT_FOUND, K.CONFLICT))
@authenticated
def move_incident(incident_id: IncidentId, req: TransitionIn, who: CurrentPrincipal,
                  authz: AuthorizerDep, session: SessionDep, service: ServiceDep) -> dict:
    """open -> reviewing (the room's managers, crisis-management) -> closed with an outcome
    (crisis-management only); 403 for anyone else who takes part."""
    incident = incident_for(session, authz, who, incident_id)  # 404 unless taking part
    check_may_move(session, authz, who, incident, req.state)
    service.transition(incident_id, who.id, req)
    session.rollback()  # end this request's read snapshot: the change was written elsewhere
    return _detail(session, authz, who, incident_id)


@router.post("/incidents/{incident_id}/approve",
             responses=doc.responses(K.UNAUTHENTICATED, K.FORBIDDEN, K.NOT_FOUND, K.CONFLICT))
@requires("incident")
def approve_incident(incident_id: IncidentId, who: CurrentPrincipal, authz: AuthorizerDep,
                     session: SessionDep, service: ServiceDep, request: Request) -> dict:
    """Crisis-management approves a manager's pending incident: its grants start now."""
    incident_for(session, authz, who, incident_id)  # 404 alike for a missing incident
    service.approve(incident_id, who, authz, client_of(request))
    session.rollback()  # end this request's read snapshot: the change was written elsewhere
    return _detail(session, authz, who, incident_id)


@router.post("/incidents/{incident_id}/release",
             responses=doc.responses(K.UNAUTHENTICATED, K.FORBIDDEN, K.NOT_FOUND))
@requires("hold")
def release_holds(incident_id: IncidentId, who: CurrentPrincipal, service: ServiceDep) -> dict:
    """Release every hold of an incident (crisis-management only)."""
    released = service.release_holds(incident_id, who.id)
    return {"incident_id": incident_id, "released": released}


@router.post("/incidents/{incident_id}/export", response_class=Response,
             responses=doc.responses(K.INVALID, K.UNAUTHENTICATED, K.FORBIDDEN, K.NOT_FOUND,
                                     ok=doc.ZIP))
@requires("export")
def export_incident(incident_id: IncidentId, who: CurrentPrincipal, service: ServiceDep,
                    request: Request, unmasked: Annotated[bool, Query(
                        description="Leave out the cameras' privacy masks (crisis-management, "
                                    "with ?reason=)")] = False,
                    reason: Annotated[str | None, Query(max_length=2000)] = None
                    ) -> FileResponse:
    """A signed evidence bundle of the incident's held footage (crisis-management); clips
    are re-encoded with each camera's privacy masks unless ?unmasked=true&reason=..."""
    draft = draft_of(request.scope)
    if unmasked and draft is not None:  # a refused unmasked export is on the record as such
        draft.reason, draft.detail["unmasked"] = reason, True
        if who.role != Role.CRISIS_MANAGEMENT:
            draft.decide(False, "unmasked-export-needs-crisis-management")
    path = service.export(incident_id, who.id, client_of(request), who.role, unmasked, reason)
    recorded_by_service(request)  # the bundle's own entry (with its ranges) is this request's
    return FileResponse(path, media_type="application/zip", filename=path.name,
                        background=BackgroundTask(remove_bundle, path))


# --- bookmarks and notes on moments of the footage ---------------------------------------


class NoteIn(BaseModel):
    """A bookmark (a moment worth coming back to) or a note, optionally on a moment."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    kind: Literal["bookmark", "note"] = "note"
    text: str = Field(min_length=1, max_length=4000)
    at: AwareDatetime | None = None
    camera_id: str | None = Field(default=None, max_length=63)


def _note(n: m.IncidentNote, users: dict[str, str]) -> dict[str, Any]:
    kind, _, ident = n.created_by.partition(":")
    return {"id": n.id, "kind": n.kind, "text": n.text, "at": wire_time(n.at),
            "camera_id": n.camera_id, "created_by": n.created_by,
            "created_by_name": users.get(ident) if kind == "user" else None,
            "created_at": wire_time(n.created_at)}


@router.get("/incidents/{incident_id}/notes",
            responses=doc.responses(K.UNAUTHENTICATED, K.NOT_FOUND))
@authenticated
def list_notes(incident_id: IncidentId, who: CurrentPrincipal, authz: AuthorizerDep,
               session: SessionDep) -> list[dict]:
    """Bookmarks and notes of an incident, oldest first (404 unless the caller takes part)."""
    incident_for(session, authz, who, incident_id)
    users = dict(session.execute(select(m.User.id, m.User.name)).all())
    notes = session.scalars(select(m.IncidentNote).where(m.IncidentNote.incident_id ==
                                                         incident_id)
                            .order_by(m.IncidentNote.id).limit(1000))
    return [_note(n, users) for n in notes]


@router.post("/incidents/{incident_id}/notes", status_code=201,
             responses=doc.responses(*BODY, K.FORBIDDEN, K.NOT_FOUND))
@authenticated
def add_note(incident_id: IncidentId, req: NoteIn, who: CurrentPrincipal,
             authz: AuthorizerDep, session: WriteSessionDep) -> dict:
    """Store a bookmark or note (people taking part only; closed incidents are read-only),
    audited as incident.note with the moment and camera it is about."""
    incident = incident_for(session, authz, who, incident_id)
    if who.kind != PrincipalKind.USER:
        raise PermissionDenied("only people write notes")
    if incident.state == "closed":
        raise PermissionDenied("a closed incident is read-only")
    if req.camera_id is not None and session.get(m.Camera, req.camera_id) is None:
        raise NotVisible("camera not found")
    at = req.at.astimezone(UTC) if req.at else None
    problem = out_of_range(at) if at else None
    if problem:
        raise InvalidRequest(f"at {problem}")
    note = m.IncidentNote(incident_id=incident_id, kind=req.kind, text=req.text, at=at,
                          camera_id=req.camera_id, created_by=who.subject)
    session.add(note)
    session.flush()
    audit.append(session, actor=who.subject, role=who.role, action="incident.note",
                 decision="info", incident_id=incident_id, camera_id=req.camera_id,
                 footage_start=at, detail={"note": note.id, "kind": req.kind,
                                           "chars": len(req.text)})
    session.commit()
    users = dict(session.execute(select(m.User.id, m.User.name)).all())
    return _note(note, users)
