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


THUMBNAIL_WIDTH = 320


def still_at(data: bytes, offset_s: float, name: str, width: int = THUMBNAIL_WIDTH,
             quality: int = 75, container_format: str = "mpegts") -> tuple[bytes, float]:
    """A small JPEG of the frame shown `offset_s` seconds into a stored segment.

    Seeks to the keyframe at or before that moment and decodes forward to the first frame
    at or after it (the last frame if the moment lies past it), so the picture never shows
    an earlier moment than the one asked for by more than a frame. Returns the JPEG and the
    frame's own offset in seconds from the segment's first frame.
    """
    try:
        container = av.open(io.BytesIO(data), format=container_format)
    except av.error.FFmpegError as exc:
        raise SegmentUnreadable(f"{name}: {exc}") from exc
    with container:
        if not container.streams.video:
            raise SegmentUnreadable(f"{name}: no video stream")
        stream = container.streams.video[0]
        frame, at = _frame_at(container, stream, max(0.0, offset_s), name)
    height = max(2, round(frame.height * width / max(1, frame.width) / 2) * 2)
    small = frame.reformat(width=width, height=height)
    return jpeg(small, quality, name), at


def _frame_at(container: av.container.InputContainer, stream: av.VideoStream,
              offset_s: float, name: str) -> tuple[av.VideoFrame, float]:
    """Demux the whole segment (cheap: no decoding), start decoding at the last keyframe at
    or before the target and stop at the first frame at or after it. FFmpeg's MPEG-TS seek
    lands on the keyframe after the target, so it is not used."""
    base = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
    target = base + offset_s
    try:
        packets = [p for p in container.demux(stream) if p.size]
        start = 0
        for i, packet in enumerate(packets):
            when = packet.pts if packet.pts is not None else packet.dts
            if when is None or not packet.is_keyframe:
                continue
            if float(when * stream.time_base) > target + 1e-3:
                break
            start = i
        last = None
        codec = stream.codec_context
        for packet in [*packets[start:], None]:
            for frame in codec.decode(packet):
                if frame.time is None:
                    continue
                last = frame
                if frame.time >= target - 1e-3:
                    return frame, max(0.0, float(frame.time) - base)
    except av.error.FFmpegError as exc:
        raise SegmentUnreadable(f"{redact(name)}: {exc}") from exc
    if last is None:
        raise SegmentUnreadable(f"{redact(name)}: no decodable frame")
    return last, max(0.0, float(last.time) - base)
