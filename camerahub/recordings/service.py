"""Answer "what footage exists" from the index alone, and build clips from verified segments."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from camerahub.db import models as m
from camerahub.db import segments as index
from camerahub.errors import KindedError
from camerahub.storage import SegmentStore, StorageError
from camerahub.video import iter_mp4

MAX_CLIP = timedelta(hours=2)
# Two segments closer than this are one continuous recording (timestamps are whole ms).
JOIN_TOLERANCE = timedelta(milliseconds=2)


class FootageError(KindedError):
    """A footage request that cannot be served: invalid, not_found, corrupt or unavailable."""


@dataclass
class Timeline:
    """Segments and gaps of one camera over a range, gaps including unexplained holes."""

    camera_id: str
    start: datetime
    end: datetime
    segments: Sequence[m.Segment]
    gaps: list[dict] = field(default_factory=list)


def _holes(segs: Sequence[m.Segment], start: datetime, end: datetime) -> list[tuple]:
    """Intervals of [start, end) that no segment covers."""
    holes, cursor = [], start
    for seg in segs:
        if seg.start - cursor > JOIN_TOLERANCE:
            holes.append((cursor, min(seg.start, end)))
        cursor = max(cursor, seg.end)
    if end - cursor > JOIN_TOLERANCE:
        holes.append((cursor, end))
    return holes


def _cause(recorded: Sequence[m.Gap], lo: datetime, hi: datetime) -> tuple[str, str | None]:
    for gap in recorded:
        if gap.start < hi and (gap.end is None or gap.end > lo):
            return gap.cause, gap.detail
    return "no_recording", None


def timeline(session: Session, camera_id: str, start: datetime, end: datetime) -> Timeline:
    """Segments overlapping the range and every hole between them, with recorded causes."""
    if end <= start:
        raise FootageError("invalid", "end must be after start")
    segs = index.segment_rows(session, camera_id, start, end)
    recorded = index.gaps_in_range(session, camera_id, start, end)
    gaps = []
    for lo, hi in _holes(segs, start, end):
        cause, detail = _cause(recorded, lo, hi)
        gaps.append({"start": lo, "end": hi, "cause": cause, "detail": detail})
    return Timeline(camera_id, start, end, segs, gaps)


@dataclass(frozen=True)
class ClipPlan:
    """Which segments make a clip and where to trim, in concatenated stream seconds."""

    segments: Sequence[m.Segment]
    start_offset: float
    end_offset: float

    @property
    def keys(self) -> list[str]:
        return [s.key for s in self.segments]


def _offset(segs: Sequence[m.Segment], moment: datetime) -> float:
    """Seconds of footage in segs before `moment` (the clip closes gaps up)."""
    total = timedelta()
    for seg in segs:
        if seg.start >= moment:
            break
        total += min(seg.end, moment) - seg.start
    return total.total_seconds()


def plan_clip(session: Session, camera_id: str, start: datetime, end: datetime) -> ClipPlan:
    """The segments of [start, end) and the trim offsets; FootageError if there are none."""
    if end <= start:
        raise FootageError("invalid", "end must be after start")
    if end - start > MAX_CLIP:
        raise FootageError("invalid", f"a clip may be at most {MAX_CLIP} long")
    segs = index.segment_rows(session, camera_id, start, end)
    if not segs:
        raise FootageError("not_found", "no footage in that range")
    return ClipPlan(segs, _offset(segs, start), _offset(segs, end))


def verified_segment(store: SegmentStore, seg: m.Segment) -> io.BytesIO:
    """The segment's bytes, refused if they do not match the index's SHA-256."""
    try:
        with store.open(seg.key) as fh:
            data = fh.read()
    except StorageError as exc:
        raise FootageError("unavailable", f"segment {seg.key}: {exc}") from exc
    if hashlib.sha256(data).hexdigest() != seg.sha256:
        raise FootageError("corrupt", f"segment {seg.key} does not match its recorded SHA-256")
    return io.BytesIO(data)


def clip_chunks(store: SegmentStore, plan: ClipPlan) -> Iterator[bytes]:
    """The clip as fragmented-MP4 chunks; each segment is fetched and verified as needed."""
    sources = (verified_segment(store, seg) for seg in plan.segments)
    yield from iter_mp4(sources, plan.start_offset, plan.end_offset)
