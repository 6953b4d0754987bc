"""Past footage: recordings listing, clip.mp4, HLS playlists and their segments.

HTTP only: what footage exists and how it is read is camerahub.recordings (FootageReader).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from camerahub.authz.incidents import visible_incidents_filter
from camerahub.db import models as m
from camerahub.db.types import utcnow
from camerahub.errors import ErrorKind as K
from camerahub.recordings import FootageError, Span, camera_timeline
from camerahub.times import wire_time

from .. import openapi as doc
from ..access import audited_as, media_url, requires
from ..auditing import draft_of
from ..deps import AuthorizerDep, FootageAccess, FootageDep, FootageGrant, SessionDep
from ..params import FOOTAGE_AT, FOOTAGE_RANGE, SegmentId

log = logging.getLogger(__name__)
router = APIRouter(prefix="/cameras", tags=["recordings"])
FOOTAGE = (K.INVALID, K.UNAUTHENTICATED, K.FORBIDDEN, K.NOT_FOUND)
READS = (*FOOTAGE, K.CORRUPT, K.UNAVAILABLE)  # routes that read segments from the store


@router.get("/{camera_id}/recordings", dependencies=FOOTAGE_RANGE,
            responses=doc.responses(*FOOTAGE))
@requires("playback", camera="camera_id", footage="range")
@audited_as("recordings")  # a look at the index, not at footage: not a second "playback"
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


Resolution = Annotated[float | None, Query(
    gt=0, le=3600, allow_inf_nan=False,
    description="Seconds per step: spans of one kind closer than this are merged "
                "(default: the range / 1440, at least 1 s)")]


def _span(span: Span) -> dict:
    out = {"kind": span.kind, "start": wire_time(span.start), "end": wire_time(span.end)}
    if span.cause is not None:
        out["cause" if span.kind != "incident" else "state"] = span.cause
    if span.detail:
        out["detail"] = span.detail
    if span.ref is not None:
        out["hold_id" if span.kind == "held" else "incident_id"] = span.ref
    if span.kind == "recorded":
        out["segments"] = span.segments
        out["hidden_gaps"] = span.hidden_gaps
    return out


@router.get("/{camera_id}/timeline", dependencies=FOOTAGE_RANGE,
            responses=doc.responses(*FOOTAGE))
@requires("playback", camera="camera_id", footage="range")
@audited_as("timeline")
def timeline(camera_id: str, access: FootageAccess, session: SessionDep, authz: AuthorizerDep,
             resolution: Resolution = None) -> Response:
    """What the range holds, span by span: recorded, gap (with its cause), not_recorded (the
    future, the segment being written, before the first recording), beyond_retention; and
    on top, held and incident spans (incidents the caller takes part in)."""
    view = camera_timeline(
        session, camera_id, access.footage_start, access.footage_end, now=utcnow(),
        resolution=timedelta(seconds=resolution) if resolution else None,
        incidents=visible_incidents_filter(session, authz, access.principal))
    body = {
        "camera_id": camera_id, "start": wire_time(view.start), "end": wire_time(view.end),
        "resolution_s": view.resolution.total_seconds(),
        "first_recording": wire_time(view.first_recording) if view.first_recording else None,
        "retention_horizon": (wire_time(view.retention_horizon)
                              if view.retention_horizon else None),
        "spans": [_span(s) for s in view.spans],
        "overlays": [_span(s) for s in view.overlays],
    }
    return Response(json.dumps(body, ensure_ascii=False), media_type="application/json",
                    headers={"Cache-Control": "no-store"})


@router.get("/{camera_id}/thumbnail.jpg", response_class=Response, dependencies=FOOTAGE_AT,
            responses=doc.responses(*READS, ok=doc.JPEG))
@requires("playback", camera="camera_id", footage="at")
@audited_as("thumbnail")
@media_url
def thumbnail(camera_id: str, access: FootageAccess, session: SessionDep, request: Request,
              footage: FootageDep) -> Response:
    """A small JPEG of the recorded frame at ?at= (the first frame at or after it), decoded
    from the stored segment; authorized like playback and audited as `thumbnail`."""
    thumb = footage.thumbnail(session, camera_id, access.footage_start)
    draft = draft_of(request.scope)
    if draft is not None:
        draft.detail["frame"] = wire_time(thumb.at, "milliseconds")
        draft.detail["segment"] = thumb.segment_id
    return Response(thumb.jpeg, media_type="image/jpeg",
                    headers={"Cache-Control": "private, max-age=300",
                             "X-Camerahub-Frame-Time": wire_time(thumb.at, "milliseconds")})
