"""Past footage: recordings listing, clip.mp4, HLS playlists and their segments."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse

from camerahub.authz.errors import InvalidRequest, NotVisible
from camerahub.db import models as m
from camerahub.recordings import FootageError, clip_chunks, plan_clip, timeline, verified_segment
from camerahub.times import wire_time

from ..access import requires
from ..deps import FootageAccess, SessionDep
from ..footage import FootageServices, footage_services, hls_playlist

log = logging.getLogger(__name__)
router = APIRouter(prefix="/cameras", tags=["recordings"])
MAX_LISTING = timedelta(days=2)
ServicesDep = Annotated[FootageServices, Depends(footage_services)]


@router.get("/{camera_id}/recordings")
@requires("playback", camera="camera_id", footage="range")
def recordings(camera_id: str, access: FootageAccess, session: SessionDep) -> Response:
    """Segments and gaps of the range, from the index alone (no bucket listing)."""
    if access.footage_end - access.footage_start > MAX_LISTING:
        raise InvalidRequest(f"a listing may span at most {MAX_LISTING}")
    line = timeline(session, camera_id, access.footage_start, access.footage_end)
    body = {
        "camera_id": camera_id, "start": wire_time(line.start), "end": wire_time(line.end),
        "segments": [{"id": s.id, "start": wire_time(s.start), "end": wire_time(s.end),
                      "duration_ms": s.duration_ms, "bytes": s.bytes, "sha256": s.sha256,
                      "held": s.held} for s in line.segments],
        "gaps": [{**g, "start": wire_time(g["start"]), "end": wire_time(g["end"])}
                 for g in line.gaps],
    }
    # Built by hand and dumped once: FastAPI's generic encoder costs more than the query.
    return Response(json.dumps(body, ensure_ascii=False), media_type="application/json")


@router.get("/{camera_id}/clip.mp4")
@requires("playback", camera="camera_id", footage="range")
def clip(camera_id: str, access: FootageAccess, session: SessionDep,
         services: ServicesDep) -> StreamingResponse:
    """One fragmented MP4 of the range, streamed as segments are fetched (stream copy)."""
    plan = plan_clip(session, camera_id, access.footage_start, access.footage_end)
    name = f"{camera_id}_{access.footage_start:%Y%m%dT%H%M%SZ}.mp4"
    return StreamingResponse(_guarded(clip_chunks(services.store, plan), camera_id),
                             media_type="video/mp4",
                             headers={"Content-Disposition": f'inline; filename="{name}"',
                                      "Cache-Control": "no-store"})


def _guarded(chunks: Iterator[bytes], camera_id: str) -> Iterator[bytes]:
    """End the stream (the client sees a short clip) if a later segment turns out bad.

    The status line is already sent by then, so the only honest signal left is to stop;
    the cause goes to the log without a traceback.
    """
    try:
        yield from chunks
    except FootageError as exc:
        log.warning("clip of %s cut short: %s", camera_id, exc)


@router.get("/{camera_id}/playback.m3u8")
@requires("playback", camera="camera_id", footage="range")
def playback(camera_id: str, access: FootageAccess, session: SessionDep,
             request: Request, services: ServicesDep) -> Response:
    """An HLS VOD playlist of the range; segment URLs are authorized, audited proxy URLs."""
    if access.footage_end - access.footage_start > MAX_LISTING:
        raise InvalidRequest(f"a playlist may span at most {MAX_LISTING}")
    line = timeline(session, camera_id, access.footage_start, access.footage_end)
    if not line.segments:
        raise FootageError("not_found", "no footage in that range")
    body = hls_playlist(line.segments, request, access)
    return Response(body, media_type="application/vnd.apple.mpegurl",
                    headers={"Cache-Control": "no-store"})


@router.get("/{camera_id}/segments/{segment_id}.ts")
@requires("playback", camera="camera_id", footage="range")
def segment(camera_id: str, segment_id: int, access: FootageAccess, session: SessionDep,
            services: ServicesDep) -> Response:
    """One stored segment (an HLS media segment), verified against its SHA-256.

    The URL carries the segment's own start and end, so the global dependency decides
    and audits exactly that footage range (a grant for another range does not cover it).
    """
    seg = session.get(m.Segment, segment_id)
    if seg is None or seg.camera_id != camera_id:
        raise NotVisible("segment not found")
    services.check_range(access, seg)
    data = verified_segment(services.store, seg).getvalue()
    return Response(data, media_type="video/mp2t", headers={"Cache-Control": "no-store"})
