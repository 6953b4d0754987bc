"""Log alerts in (API key), incidents for the people responsible, holds and evidence export."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.background import BackgroundTask

from camerahub.authz.accounts import Principal
from camerahub.authz.errors import PermissionDenied
from camerahub.incidents import AlertIn, ManualIncidentIn, TransitionIn

from ..access import authenticated, requires
from ..deps import AuthorizerDep, CurrentPrincipal, SessionDep, client_of
from ..incidents import IncidentApi, incident_api

router = APIRouter(tags=["incidents"])
ApiDep = Annotated[IncidentApi, Depends(incident_api)]


@router.post("/alerts", status_code=202)
@requires("alerts")
def post_alert(alert: AlertIn, who: CurrentPrincipal, api: ApiDep, request: Request):
    """A log alert from an alert source's API key; duplicates are idempotent."""
    source = who.alert_source
    if source is None:
        raise PermissionDenied("only an alert source's API key may post alerts")
    result = api.service.ingest_alert(source, alert, client_of(request))
    body = {"alert": alert.alert_id, "incident_id": result.incident_id,
            "duplicate": result.duplicate, "joined": result.joined, "flags": result.flags}
    return JSONResponse(body, status_code=200 if result.duplicate else 202)


@router.get("/incidents")
@authenticated
def list_incidents(who: CurrentPrincipal, authz: AuthorizerDep, session: SessionDep,
                   api: ApiDep, state: str | None = None) -> list[dict]:
    """Incidents the caller takes part in (crisis-management: all)."""
    return api.visible(session, authz, who, state)


@router.get("/incidents/{incident_id}")
@authenticated
def get_incident(incident_id: int, who: CurrentPrincipal, authz: AuthorizerDep,
                 session: SessionDep, api: ApiDep) -> dict:
    """One incident with its alerts, holds and grants; 404 if the caller takes no part."""
    return api.detail(session, authz, who, incident_id)


@router.post("/incidents", status_code=201)
@authenticated
def open_incident(req: ManualIncidentIn, who: CurrentPrincipal, authz: AuthorizerDep,
                  session: SessionDep, api: ApiDep, request: Request) -> dict:
    """Open an incident by hand with a written reason (holds and grants follow)."""
    api.check_may_open(session, authz, who, req.room_id)
    incident = api.service.open_manual(who.id, req, client_of(request))
    session.rollback()  # end this request's read snapshot: the incident was written elsewhere
    return api.detail(session, authz, who, incident.id)


@router.post("/incidents/{incident_id}/state")
@authenticated
def move_incident(incident_id: int, req: TransitionIn, who: CurrentPrincipal,
                  authz: AuthorizerDep, session: SessionDep, api: ApiDep) -> dict:
    """open -> reviewing -> closed (with an outcome)."""
    api.detail(session, authz, who, incident_id)  # 404 unless the caller takes part
    api.service.transition(incident_id, who.id, req)
    session.rollback()  # end this request's read snapshot: the change was written elsewhere
    return api.detail(session, authz, who, incident_id)


@router.post("/incidents/{incident_id}/release")
@requires("hold")
def release_holds(incident_id: int, who: CurrentPrincipal, api: ApiDep) -> dict:
    """Release every hold of an incident (crisis-management only)."""
    released = api.service.release_holds(incident_id, who.id)
    return {"incident_id": incident_id, "released": released}


@router.post("/incidents/{incident_id}/export")
@requires("export")
def export_incident(incident_id: int, who: CurrentPrincipal, api: ApiDep) -> FileResponse:
    """A signed evidence bundle of the incident's held footage (crisis-management)."""
    path = api.export(incident_id, who)
    return FileResponse(path, media_type="application/zip", filename=path.name,
                        background=BackgroundTask(path.unlink, missing_ok=True))


__all__ = ["Principal", "router"]
