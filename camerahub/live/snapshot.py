"""Live snapshots: which frame to take. Decoding and JPEG are camerahub.video.snapshot's."""

from __future__ import annotations

from camerahub.video.snapshot import first_frame, frame_from_bytes, jpeg
from camerahub.video.source import InputOptions

from .boxes import Fragment
from .upstream import open_stream, packets, video_stream


def from_fragment(init: bytes, fragment: Fragment, quality: int = 85) -> bytes:
    """A JPEG of the first frame of a keyframe fragment (init segment + fragment)."""
    return jpeg(frame_from_bytes(init + fragment.data, "live fragment"), quality)


def from_camera(url: str, opts: InputOptions, quality: int = 85) -> bytes:
    """A JPEG of the first decodable frame of a short session on the camera.

    The session opens like the live view's (short probe) and its read failures become
    StreamStalled / StreamEnded, so the hub reports them as it does for live view.
    """
    with open_stream(url, opts) as container:
        stream = video_stream(container, url)
        frame = first_frame(stream, packets(container, stream, url), url)
    return jpeg(frame, quality, url)
