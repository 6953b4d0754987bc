"""Live view: WebSocket /live/wall.ws (every tile of a wall on one socket), WebSocket
/cameras/{id}/live.ws (one camera; fMP4, one fragment per frame, for Media Source
Extensions), GET /cameras/{id}/live.mp4 (the same as one HTTP stream), snapshot.jpg, and
POST /live/media-tokens (a wall's tokens in one request)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Request, WebSocket
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field, StringConstraints

from camerahub import audit
from camerahub.authz.decision import decide_camera
from camerahub.authz.policy import VIEW
from camerahub.errors import ErrorKind as K
from camerahub.signin import issue_camera_media_token

from .. import openapi as doc
from ..access import authenticated, media_url, public, requires
from ..auditing import AuditDraft
from ..deps import AuthorizerDep, CurrentPrincipal, FootageAccess, SessionDep, StateDep, client_of
from ..deps import LiveHubDep as HubDep
from ..errors import status_of
from ..livesocket import serve_live
from ..livewall import serve_wall
from ..params import FOOTAGE_NOW

router = APIRouter(prefix="/cameras", tags=["live"])
# not under /cameras, where a path of one segment is a camera id
wall_router = APIRouter(prefix="/live", tags=["live"])
NO_STORE = {"Cache-Control": "no-store"}
RECENT_S = 600.0
ERRORS = (K.INVALID, K.UNAUTHENTICATED, K.FORBIDDEN, K.NOT_FOUND, K.UNAVAILABLE)
MAX_TOKENS = 36  # the largest wall (25) and some room
CameraId = Annotated[str, StringConstraints(min_length=1, max_length=63)]


class MediaTokensIn(BaseModel):
    """The cameras of a wall's tiles."""

    cameras: list[CameraId] = Field(min_length=1, max_length=MAX_TOKENS)


@wall_router.post("/media-tokens", responses=doc.responses(K.UNAUTHENTICATED))
@authenticated
def media_tokens(body: MediaTokensIn, request: Request, who: CurrentPrincipal,
                 authz: AuthorizerDep, state: StateDep, session: SessionDep,
                 hub: HubDep) -> dict:
    """Media tokens for many cameras at once, as POST /cameras/{id}/media-token gives one:
    a live wall asks once instead of once per tile through the browser's six connections.

    `tokens` maps each camera the caller may view to {access_token, expires_in};
    `refused` maps the others to not-found (unknown or not visible, as the single route's
    404). Each camera gets the single route's media-token audit entry, all written in one
    transaction before any token is returned. The live hub starts opening the cameras the
    caller may watch live (by policy), so that tiles whose sockets the browser opens one
    after another find their stream waiting; nothing is sent before a socket is decided.
    """
    drafts: list[tuple[AuditDraft, int]] = []
    tokens: dict[str, dict] = {}
    refused: dict[str, str] = {}
    for camera_id in dict.fromkeys(body.cameras):
        draft = AuditDraft(action="media-token", client=client_of(request),
                           path=request.url.path, method="POST", camera_id=camera_id)
        draft.identify(who)
        decision = decide_camera(authz, session, who, camera_id, VIEW)
        draft.decide(decision.allowed, decision.basis)
        state.metrics.decision(VIEW, "allow" if decision.allowed else decision.basis)
        if decision.allowed:
            issued = issue_camera_media_token(session, state.settings.secret_key, who,
                                              camera_id)
            tokens[camera_id] = {"access_token": issued["access_token"],
                                 "expires_in": issued["expires_in"]}
            drafts.append((draft, 200))
        else:
            draft.error = decision.message
            refused[camera_id] = "not-found"
            drafts.append((draft, status_of(decision.kind)))
    with state.sessions.begin() as db:
        for draft, status in drafts:
            audit.append(db, **draft.fields(status))
    for camera_id in tokens:
        if decide_camera(authz, session, who, camera_id, "live").allowed:
            hub.prepare(camera_id)
    return {"tokens": tokens, "refused": refused}


@router.get("/{camera_id}/live.mp4", response_class=Response, dependencies=FOOTAGE_NOW,
            responses=doc.responses(*ERRORS, ok=doc.LIVE_MP4))
@requires("live", camera="camera_id")
@media_url
async def live(camera_id: str, access: FootageAccess, hub: HubDep) -> StreamingResponse:
    """The camera live as fragmented MP4 (init segment, then one fragment per GOP).

    A camera that cannot be read raises LiveUnavailable: a 503 before any byte is sent.
    """
    viewer = hub.subscribe(access.camera_id, asyncio.get_running_loop())
    init = await hub.first(viewer)
    return StreamingResponse(hub.stream(viewer, init), media_type="video/mp4",
                             headers=NO_STORE)


@router.get("/{camera_id}/snapshot.jpg", response_class=Response, dependencies=FOOTAGE_NOW,
            responses=doc.responses(*ERRORS, ok=doc.JPEG))
@requires("snapshot", camera="camera_id")
@media_url
def snapshot(camera_id: str, access: FootageAccess, hub: HubDep,
             recent: Annotated[bool, Query(description="a live tile's poster: only a picture "
                                           "the hub already has (at most 10 minutes old); "
                                           "never opens a camera session")] = False
             ) -> Response:
    """One JPEG: the hub's latest keyframe when the camera is watched, else a short session."""
    data = hub.snapshot(access.camera_id, recent_s=RECENT_S if recent else None)
    return Response(data, media_type="image/jpeg", headers=NO_STORE)


@router.websocket("/{camera_id}/live.ws")
@requires("live", camera="camera_id")
@media_url
async def live_ws(websocket: WebSocket, camera_id: str) -> None:
    """The camera live over a WebSocket (see camerahub.api.livesocket for the protocol).

    Opened with ?access_token=<media token of this camera> (browsers cannot set headers on
    a WebSocket), optional ?profile= (e.g. main when a tile is enlarged) and ?reason=.
    """
    state = websocket.app.state.camerahub
    await serve_live(websocket, state.live, state)


@wall_router.websocket("/wall.ws")
@public
async def wall_ws(websocket: WebSocket) -> None:
    """Every tile of a live wall on one WebSocket (see camerahub.api.livewall).

    The socket itself carries no credential and serves nothing by itself: each tile is
    subscribed with its camera's media token and decided, audited and re-decided exactly
    as that camera's live.ws would be. A socket left without tiles is closed.
    """
    state = websocket.app.state.camerahub
    await serve_wall(websocket, state.live, state)
