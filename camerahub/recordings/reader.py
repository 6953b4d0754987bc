"""FootageReader: what the footage routes ask of recorded footage, in one place."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from camerahub.db import models as m
from camerahub.storage import SegmentStore

from . import hls
from .service import FootageError, Timeline, clip_chunks, plan_clip, timeline, verified_segment

# A listing or playlist names every segment of its range: keep that bounded.
MAX_LISTING = timedelta(days=2)


def check_listing(start: datetime, end: datetime, what: str = "listing") -> None:
    """A listing or playlist may span at most MAX_LISTING."""
    if end - start > MAX_LISTING:
        raise FootageError("invalid", f"a {what} may span at most {MAX_LISTING}")


def find_segment(session: Session, camera_id: str, segment_id: int) -> m.Segment:
    """The indexed segment of this camera; not_found for another camera's id too."""
    seg = session.get(m.Segment, segment_id)
    if seg is None or seg.camera_id != camera_id:
        raise FootageError("not_found", "segment not found")
    return seg


def check_covers(seg: m.Segment, start: datetime, end: datetime) -> None:
    """The segment must lie inside the range the request was authorized for."""
    if seg.start < start or seg.end > end:
        raise FootageError("invalid", "start/end must cover the whole segment")


class FootageReader:
    """Past footage of one deployment: the index says what exists, the store has the bytes."""

    def __init__(self, store: SegmentStore) -> None:
        self.store = store

    def listing(self, session: Session, camera_id: str, start: datetime,
                end: datetime) -> Timeline:
        """Segments and gaps of a bounded range, from the index alone."""
        check_listing(start, end)
        return timeline(session, camera_id, start, end)

    def clip(self, session: Session, camera_id: str, start: datetime,
             end: datetime) -> Iterator[bytes]:
        """The range as fMP4 chunks; a bad range fails here, before any byte is produced."""
        plan = plan_clip(session, camera_id, start, end)
        return clip_chunks(self.store, plan)

    def playlist(self, session: Session, camera_id: str, start: datetime, end: datetime,
                 url_of: Callable[[m.Segment], str]) -> str:
        """An HLS VOD playlist of the range; url_of gives each segment's URL."""
        check_listing(start, end, "playlist")
        line = timeline(session, camera_id, start, end)
        if not line.segments:
            raise FootageError("not_found", "no footage in that range")
        return hls.playlist(line.segments, url_of)

    def segment(self, session: Session, camera_id: str, segment_id: int, start: datetime,
                end: datetime) -> bytes:
        """One segment's bytes, checked against its SHA-256, if [start, end] covers it."""
        seg = find_segment(session, camera_id, segment_id)
        check_covers(seg, start, end)
        return verified_segment(self.store, seg).getvalue()
