"""Our own video exceptions; PyAV/FFmpeg errors are translated into these at the boundary."""

from __future__ import annotations

from datetime import datetime

OPEN_ERROR_KINDS = ("unauthorized", "forbidden", "not_found", "unreachable", "timeout", "invalid",
                    "untrusted")  # untrusted: an rtsps:// camera's certificate (video.tls)


class VideoError(Exception):
    """Base of every video failure."""


class StreamError(VideoError):
    """A recording session ended; carries when the last closed segment ended (gap start)."""

    def __init__(self, message: str, last_end_utc: datetime | None = None) -> None:
        super().__init__(message)
        self.last_end_utc = last_end_utc


class StreamOpenError(StreamError):
    """The stream could not be opened; `kind` is one of OPEN_ERROR_KINDS."""

    def __init__(self, kind: str, message: str, last_end_utc: datetime | None = None) -> None:
        super().__init__(f"{kind}: {message}", last_end_utc)
        self.kind = kind


class StreamStalled(StreamError):
    """No packet arrived within the read timeout."""


class StreamEnded(StreamError):
    """The session ended (EOF, connection reset or demux error)."""


class SinkFailed(StreamEnded):
    """The session ended because the sink could not take the footage (the spool's disk is
    full or gone); `errno` is the OS error number, if there was one."""

    def __init__(self, message: str, errno: int | None = None,
                 last_end_utc: datetime | None = None) -> None:
        super().__init__(message, last_end_utc)
        self.errno = errno


class StreamInvalid(StreamError):
    """The session delivered no recordable video for the stall timeout: packets that are not
    valid NAL units, keyframes that do not decode, stream time that runs ahead of the wall
    clock, or bytes that never make a packet at all."""


class ImplausibleTiming(VideoError):
    """A segment's stream time claims more than the wall-clock time in which it arrived."""


class SegmentUnreadable(VideoError):
    """A segment or clip input cannot be demuxed."""
