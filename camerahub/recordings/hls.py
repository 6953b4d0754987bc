"""HLS VOD playlists of recorded segments (the router decides what each segment's URL is)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from camerahub.db import models as m
from camerahub.times import wire_time

from .service import JOIN_TOLERANCE


def playlist(segments: Sequence[m.Segment], url_of: Callable[[m.Segment], str]) -> str:
    """An HLS VOD playlist; a discontinuity marks every gap (timestamps restart there)."""
    target = max(math.ceil(s.duration_ms / 1000) for s in segments)
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-PLAYLIST-TYPE:VOD",
             f"#EXT-X-TARGETDURATION:{target}", "#EXT-X-MEDIA-SEQUENCE:0"]
    previous = None
    for seg in segments:
        if previous is not None and seg.start - previous.end > JOIN_TOLERANCE:
            lines.append("#EXT-X-DISCONTINUITY")
        lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{wire_time(seg.start, 'milliseconds')}")
        lines.append(f"#EXTINF:{seg.duration_ms / 1000:.3f},")
        lines.append(url_of(seg))
        previous = seg
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"
