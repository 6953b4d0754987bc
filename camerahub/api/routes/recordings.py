"""Past footage: recordings listing, clip.mp4, HLS playlists and their segments.

HTTP only: what footage exists and how it is read is camerahub.recordings (FootageReader).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from camerahub.db import models as m
from camerahub.errors import ErrorKind as K
from camerahub.recordings import FootageError
from camerahub.times import wire_time

from .. import openapi as doc
from ..access import media_url, requires
from ..deps import FootageAccess, FootageDep, FootageGrant, SessionDep
from ..params import FOOTAGE_RANGE, SegmentId

log = logging.getLogger(__name__)
router = APIRouter(prefix="/cameras", tags=["recordings"])
FOOTAGE = (K.INVALID, K.UNAUTHENTICATED, K.FORBIDDEN, K.NOT_FOUND)
READS = (*FOOTAGE, K.CORRUPT, K.UNAVAILABLE)  # routes that read segments from the store


@router.get("/{camera_id}/recordings", dependencies=FOOTAGE_RANGE,
            responses=doc.responses(*FOOTAGE))
@requires("playback", camera="camera_id", footage="range")
def recordings(camera_id: str, access: FootageAccess, session: SessionDep,
               footage: FootageDep) -> Response:
    """Segments and gaps of the range, from the index alone (no bucket listing)."""
    line = footage.listing(session, camera_id, access.footage_start, access.footage_end)
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


@router.get("/{camera_id}/clip.mp4", response_class=Response, dependencies=FOOTAGE_RANGE,
            responses=doc.responses(*READS, ok=doc.CLIP_MP4))
@requires("playback", camera="camera_id", footage="range")
@media_url
def clip(camera_id: str, access: FootageAccess, session: SessionDep,
         footage: FootageDep) -> StreamingResponse:
    """One fragmented MP4 of the range, streamed as segments are fetched (stream copy)."""
    chunks = footage.clip(session, camera_id, access.footage_start, access.footage_end)
    name = f"{camera_id}_{access.footage_start:%Y%m%dT%H%M%SZ}.mp4"
    return StreamingResponse(_guarded(chunks, camera_id), media_type="video/mp4",
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


def _segment_url(request: Request, access: FootageGrant, seg: m.Segment) -> str:
    """A playlist entry: the segment route, authorized for exactly the segment's range."""
    query = {"start": wire_time(seg.start), "end": wire_time(seg.end)}
    if access.reason:
        query["reason"] = access.reason
    token = request.query_params.get("access_token")
    if token:
        query["access_token"] = token
    return f"segments/{seg.id}.ts?{urlencode(query)}"


@router.get("/{camera_id}/playback.m3u8", response_class=Response, dependencies=FOOTAGE_RANGE,
            responses=doc.responses(*FOOTAGE, ok=doc.HLS))
@requires("playback", camera="camera_id", footage="range")
@media_url
def playback(camera_id: str, access: FootageAccess, session: SessionDep,
             request: Request, footage: FootageDep) -> Response:
    """An HLS VOD playlist of the range; segment URLs are authorized, audited proxy URLs."""
    body = footage.playlist(session, camera_id, access.footage_start, access.footage_end,
                            lambda seg: _segment_url(request, access, seg))
    return Response(body, media_type="application/vnd.apple.mpegurl",
                    headers={"Cache-Control": "no-store"})


@router.get("/{camera_id}/segments/{segment_id}.ts", response_class=Response,
            dependencies=FOOTAGE_RANGE, responses=doc.responses(*READS, ok=doc.TS))
@requires("playback", camera="camera_id", footage="range")
@media_url
def segment(camera_id: str, segment_id: SegmentId, access: FootageAccess, session: SessionDep,
            footage: FootageDep) -> Response:
    """One stored segment (an HLS media segment), verified against its SHA-256.

    The URL carries the segment's own start and end, so the global dependency decides
    and audits exactly that footage range (a grant for another range does not cover it).
    """
    data = footage.segment(session, camera_id, segment_id, access.footage_start,
                           access.footage_end)
    return Response(data, media_type="video/mp2t", headers={"Cache-Control": "no-store"})
