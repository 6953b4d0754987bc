"""Opening a camera's RTSP stream for live view, failures translated into LiveUnavailable."""

from __future__ import annotations

import logging

import av

from camerahub.video.errors import StreamError, StreamOpenError
from camerahub.video.source import InputOptions, open_input, redact, translate_read_error

from .errors import LiveUnavailable

log = logging.getLogger(__name__)
# The SDP usually carries SPS/PPS (size and avcC known before any packet), so no probing is
# needed: the first open reads nothing ahead (1.5 s sooner to the first picture here). A
# camera whose SDP leaves them out is opened again with a short probe; FFmpeg's default 5 s
# analysis would make every first viewer wait that long.
FAST_OPTIONS = {"analyzeduration": "0", "probesize": "32", "fpsprobesize": "0"}
PROBE_OPTIONS = {"analyzeduration": "1000000", "probesize": "500000", "fpsprobesize": "0"}
REASONS = {"unauthorized": "the camera refused our credentials",
           "forbidden": "the camera refused our credentials",
           "not_found": "the camera has no such stream",
           "timeout": "the camera did not answer in time",
           "unreachable": "the camera is unreachable",
           "untrusted": "the camera's certificate is not trusted",
           "invalid": "the camera sent an unreadable stream"}


def unavailable(camera_id: str, exc: BaseException) -> LiveUnavailable:
    """A LiveUnavailable naming the camera and the kind of failure (no URL, no secret)."""
    if isinstance(exc, StreamOpenError):
        why = REASONS.get(exc.kind, REASONS["unreachable"])
    elif isinstance(exc, StreamError):
        why = "the live stream ended"
    else:
        why = REASONS["unreachable"]
    return LiveUnavailable(f"camera {camera_id}: {why}")


def _described(container: av.container.InputContainer) -> bool:
    """Did the SDP tell the video's size and parameter sets (nothing left to probe)?"""
    video = container.streams.video
    return bool(video) and bool(video[0].width) and bool(video[0].codec_context.extradata)


def open_stream(url: str, opts: InputOptions) -> av.container.InputContainer:
    """Open an RTSP URL for demuxing (rtsps:// verified, see video.source.open_input);
    StreamOpenError(kind) on failure."""
    container = open_input(url, opts, FAST_OPTIONS)
    if _described(container):
        return container
    container.close()
    return open_input(url, opts, PROBE_OPTIONS)


def video_stream(container: av.container.InputContainer, url: str):
    """The first video stream; StreamOpenError if the camera sends none."""
    if not container.streams.video:
        raise StreamOpenError("invalid", f"{redact(url)}: no video stream")
    return container.streams.video[0]


def packets(container: av.container.InputContainer, stream, url: str):
    """Demux packets; read failures become StreamStalled / StreamEnded."""
    try:
        yield from container.demux(stream)
    except av.error.FFmpegError as exc:
        raise translate_read_error(exc, url) from exc
