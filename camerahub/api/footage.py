"""What the footage routes share: the segment store and HLS playlists."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

from fastapi import Request

from camerahub.authz.errors import InvalidRequest
from camerahub.config.runtime import Runtime
from camerahub.db import models as m
from camerahub.recorder import make_store
from camerahub.storage import SegmentStore
from camerahub.times import wire_time

from .deps import FootageGrant

# Consecutive segments closer than this are one continuous session (no discontinuity).
CONTIGUOUS = timedelta(milliseconds=2)
_lock = threading.Lock()


@dataclass
class FootageServices:
    """The store footage is read from (built once per app)."""

    store: SegmentStore

    @staticmethod
    def check_range(access: FootageGrant, seg: m.Segment) -> None:
        """The segment must lie inside the range the request was authorized for."""
        if seg.start < access.footage_start or seg.end > access.footage_end:
            raise InvalidRequest("start/end must cover the whole segment")


def footage_services(request: Request) -> FootageServices:
    """The app's FootageServices, created on first use."""
    state = request.app.state
    with _lock:
        if getattr(state, "footage", None) is None:
            settings = state.camerahub.settings
            runtime = Runtime(Path("camerahub.yaml"), settings.data_dir, settings.database_url)
            state.footage = FootageServices(make_store(settings.config, runtime))
    return state.footage


def _segment_url(request: Request, seg: m.Segment, access: FootageGrant) -> str:
    query = {"start": wire_time(seg.start), "end": wire_time(seg.end)}
    if access.reason:
        query["reason"] = access.reason
    token = request.query_params.get("access_token")
    if token:
        query["access_token"] = token
    return f"segments/{seg.id}.ts?{urlencode(query)}"


def hls_playlist(segments: list[m.Segment], request: Request,
                 access: FootageGrant) -> str:
    """An HLS VOD playlist; a discontinuity marks every gap (timestamps restart there)."""
    target = max(math.ceil(s.duration_ms / 1000) for s in segments)
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-PLAYLIST-TYPE:VOD",
             f"#EXT-X-TARGETDURATION:{target}", "#EXT-X-MEDIA-SEQUENCE:0"]
    previous = None
    for seg in segments:
        if previous is not None and seg.start - previous.end > CONTIGUOUS:
            lines.append("#EXT-X-DISCONTINUITY")
        lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{wire_time(seg.start, 'milliseconds')}")
        lines.append(f"#EXTINF:{seg.duration_ms / 1000:.3f},")
        lines.append(_segment_url(request, seg, access))
        previous = seg
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"
