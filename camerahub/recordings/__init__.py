"""Past footage (reading): what is recorded in a range, clips, HLS playlists, re-indexing."""

from .hls import playlist
from .reader import MAX_LISTING, FootageReader, Thumbnail, check_covers, find_segment
from .reindex import rebuild_index, reindex_key
from .service import (
    ClipPlan,
    FootageError,
    Timeline,
    clip_chunks,
    plan_clip,
    timeline,
    verified_segment,
)
from .timeline import MAX_TIMELINE, Span, TimelineView, camera_timeline

__all__ = ["MAX_LISTING", "MAX_TIMELINE", "ClipPlan", "FootageError", "FootageReader", "Span",
           "Thumbnail", "Timeline", "TimelineView", "camera_timeline", "check_covers",
           "clip_chunks", "find_segment", "plan_clip", "playlist", "rebuild_index",
           "reindex_key", "timeline", "verified_segment"]
