"""GET /cameras and /cameras/{id}: only what the caller may see."""

from __future__ import annotations

from fastapi import APIRouter

from ..access import authenticated, requires
from ..deps import AuthorizerDep, CurrentPrincipal, SessionDep
from ..services import camera_detail, visible_cameras

router = APIRouter(prefix="/cameras", tags=["cameras"])


@router.get("")
@authenticated
def list_cameras(who: CurrentPrincipal, authz: AuthorizerDep, session: SessionDep) -> list[dict]:
    """Cameras the caller may view (live, playback or snapshot), with the actions allowed."""
    return visible_cameras(session, authz, who)


@router.get("/{camera_id}")
@requires("view", camera="camera_id")
def get_camera(camera_id: str, who: CurrentPrincipal, authz: AuthorizerDep,
               session: SessionDep) -> dict:
    """One camera; 404 alike for unknown cameras and cameras the caller may not see."""
    return camera_detail(session, authz, who, camera_id)
