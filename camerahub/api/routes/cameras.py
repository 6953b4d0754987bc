"""GET /cameras and /cameras/{id}: only what the caller may see."""

from __future__ import annotations

from fastapi import APIRouter

from camerahub.authz.policy import VIEW
from camerahub.errors import ErrorKind as K
from camerahub.inventory import camera_detail, visible_cameras
from camerahub.signin import issue_camera_media_token

from .. import openapi as doc
from ..access import audited_as, authenticated, requires
from ..deps import AuthorizerDep, CurrentPrincipal, SessionDep, StateDep

router = APIRouter(prefix="/cameras", tags=["cameras"])


@router.get("", responses=doc.responses(K.UNAUTHENTICATED))
@authenticated
def list_cameras(who: CurrentPrincipal, authz: AuthorizerDep, session: SessionDep) -> list[dict]:
    """Cameras the caller may view (live, playback or snapshot), with the actions allowed."""
    return visible_cameras(session, authz, who)


@router.get("/{camera_id}", responses=doc.responses(K.UNAUTHENTICATED, K.NOT_FOUND))
@requires(VIEW, camera="camera_id")
def get_camera(camera_id: str, who: CurrentPrincipal, authz: AuthorizerDep,
               session: SessionDep) -> dict:
    """One camera; 404 alike for unknown cameras and cameras the caller may not see."""
    return camera_detail(session, authz, who, camera_id)


@router.post("/{camera_id}/media-token",
             responses=doc.responses(K.UNAUTHENTICATED, K.NOT_FOUND))
@requires(VIEW, camera="camera_id")
@audited_as("media-token")
def media_token(camera_id: str, who: CurrentPrincipal, state: StateDep,
                session: SessionDep) -> dict:
    """A 10-minute token for this camera's media URLs (?access_token=), for <video> and HLS."""
    return issue_camera_media_token(session, state.settings.secret_key, who, camera_id)
