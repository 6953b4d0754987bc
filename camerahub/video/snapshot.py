"""Snapshots: decode one frame (here decoding is fine) and encode it as JPEG with OpenCV.

The one place frames are decoded for a still image: files and URLs (snapshot_jpeg), bytes
in memory (frame_from_bytes, e.g. a live init segment plus a keyframe fragment), and any
packet source a caller opened itself (first_frame, e.g. the live view's RTSP session).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

import av
import cv2

from camerahub.video.errors import SegmentUnreadable, VideoError
from camerahub.video.source import InputOptions, open_input, redact

# Enough packets to get past a slow start (SEI, leading non-keyframes, decoder delay) and
# to reach a keyframe on a camera with a long GOP.
MAX_PACKETS = 300
SNAPSHOT_INPUT = InputOptions(open_timeout_s=5, read_timeout_s=5)


def snapshot_jpeg(
    source: str | Path, quality: int = 85, options: InputOptions | None = None
) -> bytes:
    """Return a JPEG of the first decodable frame of a URL or segment file."""
    name = str(source)
    with open_input(name, options or SNAPSHOT_INPUT) as container:
        frame = _first_frame_of(container, name)
    return jpeg(frame, quality, name)


def frame_from_bytes(data: bytes, name: str, container_format: str = "mp4") -> av.VideoFrame:
    """The first decodable frame of a whole file held in memory; name is for messages."""
    try:
        container = av.open(io.BytesIO(data), format=container_format)
    except av.error.FFmpegError as exc:
        raise SegmentUnreadable(f"{name}: {exc}") from exc
    with container:
        return _first_frame_of(container, name)


def first_frame(stream: av.VideoStream, packets: Iterable[av.Packet],
                name: str) -> av.VideoFrame:
    """Decode from the first keyframe until a frame comes out, within MAX_PACKETS packets.

    packets may raise the caller's own errors (a live session's stall); those pass through.
    """
    seen_key = False
    try:
        for count, packet in enumerate(packets):
            seen_key = seen_key or bool(packet.is_keyframe)
            if count >= MAX_PACKETS:
                break
            if seen_key:
                for frame in stream.codec_context.decode(packet):
                    return frame
    except av.error.FFmpegError as exc:
        raise SegmentUnreadable(f"{redact(name)}: {exc}") from exc
    raise SegmentUnreadable(f"{redact(name)}: no decodable frame")


def jpeg(frame: av.VideoFrame, quality: int = 85, name: str = "frame") -> bytes:
    """A JPEG of a decoded frame."""
    ok, data = cv2.imencode(".jpg", frame.to_ndarray(format="bgr24"),
                            [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise VideoError(f"JPEG encoding failed for {redact(name)}")
    return data.tobytes()


def _first_frame_of(container: av.container.InputContainer, name: str) -> av.VideoFrame:
    """The first decodable frame of an opened container's first video stream."""
    if not container.streams.video:
        raise SegmentUnreadable(f"{redact(name)}: no video stream")
    stream = container.streams.video[0]
    return first_frame(stream, container.demux(stream), name)
