"""JPEG snapshots: decode one keyframe (decoding is fine here; live view never does)."""

from __future__ import annotations

import io

import av
import cv2

from camerahub.video.errors import SegmentUnreadable, VideoError
from camerahub.video.source import InputOptions

from .boxes import Fragment
from .upstream import open_stream, packets, video_stream

# Enough packets to reach a keyframe on a camera with a long GOP.
MAX_PACKETS = 300


def jpeg(frame: av.VideoFrame, quality: int = 85) -> bytes:
    """A JPEG of a decoded frame."""
    ok, data = cv2.imencode(".jpg", frame.to_ndarray(format="bgr24"),
                            [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise VideoError("JPEG encoding failed")
    return data.tobytes()


def from_fragment(init: bytes, fragment: Fragment) -> av.VideoFrame:
    """The first frame of a keyframe fragment, decoded from init segment + fragment."""
    try:
        with av.open(io.BytesIO(init + fragment.data), format="mp4") as container:
            for frame in container.decode(video=0):
                return frame
    except av.error.FFmpegError as exc:
        raise SegmentUnreadable(f"live fragment: {exc}") from exc
    raise SegmentUnreadable("live fragment holds no frame")


def from_camera(url: str, opts: InputOptions) -> av.VideoFrame:
    """The first decodable frame of a short session on the camera."""
    with open_stream(url, opts) as container:
        stream = video_stream(container, url)
        seen_key = False
        for count, packet in enumerate(packets(container, stream, url)):
            seen_key = seen_key or bool(packet.is_keyframe)
            if count >= MAX_PACKETS:
                break
            if seen_key:
                for frame in stream.codec_context.decode(packet):
                    return frame
    raise SegmentUnreadable("camera sent no decodable frame")
