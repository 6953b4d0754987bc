"""FootageReader: what the footage routes ask of recorded footage, in one place."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from camerahub.db import models as m
from camerahub.db import segments as index
from camerahub.storage import SegmentStore
from camerahub.video import VideoError, still_at

from . import hls
from .service import FootageError, Timeline, clip_chunks, plan_clip, timeline, verified_segment

# A listing or playlist names every segment of its range: keep that bounded.
MAX_LISTING = timedelta(days=2)
# Thumbnails kept in memory (about 10 kB each); a hover over a timeline asks for many.
THUMBNAIL_CACHE = 1024


class Thumbnail:
    """A small JPEG of recorded footage and the moment its frame shows."""

    __slots__ = ("at", "jpeg", "segment_id")

    def __init__(self, jpeg: bytes, at: datetime, segment_id: int) -> None:
        self.jpeg, self.at, self.segment_id = jpeg, at, segment_id


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

    def __init__(self, store: SegmentStore, cache_size: int = THUMBNAIL_CACHE) -> None:
        self.store = store
        self._thumbs: OrderedDict[tuple[int, int], Thumbnail] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

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

    def thumbnail(self, session: Session, camera_id: str, at: datetime) -> Thumbnail:
        """A small JPEG of the frame at `at`, decoded from the stored segment holding it.

        Cached by segment and millisecond: callers authorize (and audit) every request
        before asking, the cache only spares the decoding.
        """
        rows = index.segment_rows(session, camera_id, at, at + timedelta(milliseconds=1))
        if not rows:
            raise FootageError("not_found", "no footage at that moment")
        seg = rows[0]
        offset_ms = int((at - seg.start).total_seconds() * 1000)
        key = (seg.id, offset_ms)
        with self._lock:
            hit = self._thumbs.get(key)
            if hit is not None:
                self._thumbs.move_to_end(key)
                return hit
        data = verified_segment(self.store, seg).getvalue()
        try:
            picture, frame_s = still_at(data, offset_ms / 1000, seg.key)
        except VideoError as exc:
            raise FootageError("corrupt", f"segment {seg.key} cannot be decoded: {exc}") from exc
        thumb = Thumbnail(picture, seg.start + timedelta(seconds=frame_s), seg.id)
        with self._lock:
            self._thumbs[key] = thumb
            while len(self._thumbs) > self._cache_size:
                self._thumbs.popitem(last=False)
        return thumb
