"""Live view: WebSocket /cameras/{id}/live.ws (fMP4, one fragment per frame, for Media
Source Extensions), GET /cameras/{id}/live.mp4 (the same as one HTTP stream) and
snapshot.jpg."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, WebSocket
from fastapi.responses import Response, StreamingResponse

from camerahub.errors import ErrorKind as K

from .. import openapi as doc
from ..access import media_url, requires
from ..deps import FootageAccess
from ..deps import LiveHubDep as HubDep
from ..livesocket import serve_live
from ..params import FOOTAGE_NOW

router = APIRouter(prefix="/cameras", tags=["live"])
NO_STORE = {"Cache-Control": "no-store"}
RECENT_S = 600.0
ERRORS = (K.INVALID, K.UNAUTHENTICATED, K.FORBIDDEN, K.NOT_FOUND, K.UNAVAILABLE)


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
