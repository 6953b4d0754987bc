"""Live view: GET /cameras/{id}/live.mp4 (fragmented MP4 from the hub) and snapshot.jpg."""

from __future__ import annotations

import asyncio
import threading
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response, StreamingResponse

from camerahub.live import LiveHub, LiveSources

from ..access import requires
from ..deps import FootageAccess

router = APIRouter(prefix="/cameras", tags=["live"])
_lock = threading.Lock()
NO_STORE = {"Cache-Control": "no-store"}


def live_hub(request: Request) -> LiveHub:
    """The app's LiveHub, created on first use (tests may put their own on app.state.live)."""
    state = request.app.state
    with _lock:
        if getattr(state, "live", None) is None:
            ours = state.camerahub
            sources = LiveSources(ours.settings.config, ours.sessions)
            state.live = LiveHub(sources, forget=sources.forget)
    return state.live


def close_live_hub(app: FastAPI) -> None:
    """Stop every upstream session (app shutdown)."""
    hub = getattr(app.state, "live", None)
    if hub is not None:
        hub.close()


HubDep = Annotated[LiveHub, Depends(live_hub)]


@router.get("/{camera_id}/live.mp4", response_model=None)
@requires("live", camera="camera_id")
async def live(camera_id: str, access: FootageAccess, hub: HubDep) -> StreamingResponse:
    """The camera live as fragmented MP4 (init segment, then one fragment per GOP).

    A camera that cannot be read raises LiveUnavailable: a 503 before any byte is sent.
    """
    viewer = hub.subscribe(access.camera_id, asyncio.get_running_loop())
    init = await hub.first(viewer)
    return StreamingResponse(hub.stream(viewer, init), media_type="video/mp4",
                             headers=NO_STORE)


@router.get("/{camera_id}/snapshot.jpg", response_model=None)
@requires("snapshot", camera="camera_id")
def snapshot(camera_id: str, access: FootageAccess, hub: HubDep) -> Response:
    """One JPEG: the hub's latest keyframe when the camera is watched, else a short session."""
    data = hub.snapshot(access.camera_id)
    return Response(data, media_type="image/jpeg", headers=NO_STORE)
