"""Past footage: what is recorded in a range, and clips remuxed from it."""

from .service import (
    ClipPlan,
    FootageError,
    Timeline,
    clip_chunks,
    plan_clip,
    timeline,
    verified_segment,
)

__all__ = ["ClipPlan", "FootageError", "Timeline", "clip_chunks", "plan_clip", "timeline",
           "verified_segment"]
