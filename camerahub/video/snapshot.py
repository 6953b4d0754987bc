"""Snapshots: decode one frame (here decoding is fine) and encode it as JPEG with OpenCV."""

from __future__ import annotations

from pathlib import Path

import av
import cv2

from camerahub.video.errors import SegmentUnreadable, VideoError
from camerahub.video.source import InputOptions, open_input, redact

# Enough packets to get past a slow start (SEI, leading non-keyframes, decoder delay).
_MAX_PACKETS = 300


def snapshot_jpeg(
    source: str | Path, quality: int = 85, options: InputOptions | None = None
) -> bytes:
    """Return a JPEG of the first decodable frame of a URL or segment file."""
    name = str(source)
    container = open_input(name, options or InputOptions(open_timeout_s=5, read_timeout_s=5))
    with container:
        frame = _first_frame(container, name)
    ok, jpeg = cv2.imencode(".jpg", frame.to_ndarray(format="bgr24"),
                            [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise VideoError(f"JPEG encoding failed for {redact(name)}")
    return jpeg.tobytes()


def _first_frame(container, name: str) -> av.VideoFrame:
    """Decode from the first keyframe until a frame comes out."""
    if not container.streams.video:
        raise SegmentUnreadable(f"{redact(name)}: no video stream")
    stream = container.streams.video[0]
    seen_key = False
    try:
        for count, packet in enumerate(container.demux(stream)):
            seen_key = seen_key or bool(packet.is_keyframe)
            if count >= _MAX_PACKETS:
                break
            if seen_key:
                for frame in stream.codec_context.decode(packet):
                    return frame
    except av.error.FFmpegError as exc:
        raise SegmentUnreadable(f"{redact(name)}: {exc}") from exc
    raise SegmentUnreadable(f"{redact(name)}: no decodable frame")
