"""Past footage (reading): what is recorded in a range, clips, HLS playlists, re-indexing."""

from .hls import playlist
from .reader import MAX_LISTING, FootageReader, check_covers, find_segment
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

__all__ = ["MAX_LISTING", "ClipPlan", "FootageError", "FootageReader", "Timeline",
           "check_covers", "clip_chunks", "find_segment", "plan_clip", "playlist",
           "rebuild_index", "reindex_key", "timeline", "verified_segment"]
