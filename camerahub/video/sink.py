"""Where the segmenter puts segments: an interface met by shape, implemented outside video/.

camerahub.video imports nothing of ours, so the spool's writer (camerahub.storage.SpoolSink)
is handed in by whoever wires the two, the way `salvage_segment` is handed to the
spool's recovery. The segmenter owns the stream: where to cut, the timing, the muxer and its write
blocks. The sink owns everything on disk: names, sidecars, checksums, fsyncs and the
commit, and gives back its own record of each finished segment.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, TypeVar

Item_co = TypeVar("Item_co", covariant=True)


class SegmentFile(Protocol):
    """A segment being written: the muxer's output, a plain non-seekable byte stream."""

    def write(self, data: bytes, /) -> int:
        """Take all of data; an OSError means this segment cannot be finished."""


class SegmentSink(Protocol[Item_co]):
    """Takes a camera's segments one at a time: begin, write, then commit or abandon.

    An OSError from any method means the sink cannot take the segment (disk full, no
    free name): the segmenter ends the session and the caller reconnects later.
    """

    def begin(self, camera_id: str, site: str, start_utc: datetime, ext: str) -> SegmentFile:
        """Start a segment of a camera at start_utc (aware, whole ms), before its first byte."""

    def commit(self, file: SegmentFile, *, duration_ms: int, frames: int, keyframes: int,
               codec: str, width: int, height: int,
               start_utc: datetime | None = None) -> Item_co:
        """Publish a fully written segment with what the segmenter measured; return its record.

        `start_utc`, when given, replaces the start given to begin(): a live segment's start
        is settled only once its packets have shown when they really arrived.
        """

    def abandon(self, file: SegmentFile) -> None:
        """Close a segment that will not be committed (its muxer failed); keep it for recovery."""

    def reject(self, file: SegmentFile, reason: str) -> None:
        """Close a fully written segment that is not evidence; keep it, never publish it."""

    def discard(self, file: SegmentFile) -> None:
        """Close and delete a segment with no frame in it (its only frame was dropped)."""
