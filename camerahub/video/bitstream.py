"""Is a packet plausibly H.264 or H.265 at all: NAL unit syntax, checked without decoding.

A camera that sends random payloads in well-formed RTP makes FFmpeg's depacketizer and
parser emit packets of noise, some of them flagged as keyframes. Decoding every packet to
find out would cost what stream copy saves, so each packet's NAL units are checked instead
(a few microseconds): the forbidden bit clear, no reserved type, at least one slice. Only
the keyframe that starts a segment is decoded (`keyframe_decodes`), strictly.
"""

from __future__ import annotations

import av

from camerahub.video.probe import strict_decoder

_START = b"\x00\x00\x01"
# H.264 (Rec. ITU-T H.264 table 7-1): 0 is unspecified, 17, 18, 22 and 23 are reserved; 24-31
# are unspecified (RTP aggregation types never reach a depacketized packet, vendors may use
# them in-band). Slices are 1-5.
_H264_BAD = frozenset({0, 17, 18, 22, 23})
_H264_SLICES = frozenset(range(1, 6))
# H.265 (table 7-1): 10-15, 22-31 and 41-47 are reserved; slices are 0-9 and 16-21.
_HEVC_BAD = frozenset({*range(10, 16), *range(22, 32), *range(41, 48)})
_HEVC_SLICES = frozenset({*range(0, 10), *range(16, 22)})


class NalCheck:
    """Checks packets of one stream; call it with a packet's bytes: None, or why not."""

    def __init__(self, codec: str, extradata: bytes | None) -> None:
        self.codec = codec if codec in ("h264", "hevc") else None
        # avcC/hvcC extradata (MP4 inputs): NAL units carry a length prefix, not a start code
        self.length_size = _length_size(codec, extradata)

    def __call__(self, data: bytes) -> str | None:
        """Why this packet is not valid H.264/H.265, or None (other codecs: always None)."""
        if self.codec is None:
            return None
        headers = self._headers(data)
        if isinstance(headers, str):
            return headers
        return _judge_h264(headers) if self.codec == "h264" else _judge_hevc(headers)

    def _headers(self, data: bytes) -> list[bytes] | str:
        """The first two bytes of every NAL unit, or why they cannot be found."""
        if self.length_size:
            return _prefixed_headers(data, self.length_size)
        return _annexb_headers(data)


def keyframe_decodes(stream: av.VideoStream, packet: av.Packet) -> bool:
    """Whether a keyframe decodes on its own, with a strict decoder, to a picture."""
    decoder = strict_decoder(stream)
    try:
        return bool(decoder.decode(packet) or decoder.decode(None))
    except av.error.FFmpegError:
        return False


def _length_size(codec: str, extradata: bytes | None) -> int:
    """NAL length-prefix size from avcC/hvcC extradata (version byte 1), or 0 for Annex B."""
    if not extradata or extradata[0] != 1:
        return 0
    if codec == "h264" and len(extradata) > 4:
        return (extradata[4] & 3) + 1
    if codec == "hevc" and len(extradata) > 21:
        return (extradata[21] & 3) + 1
    return 0


def _annexb_headers(data: bytes) -> list[bytes] | str:
    """NAL headers of an Annex B packet (start-code delimited)."""
    first = data.find(_START)
    if first < 0 or first > 1 or data[:first].strip(b"\x00"):
        return "no start code"
    headers, pos = [], first
    while pos >= 0:
        headers.append(data[pos + 3:pos + 5])
        pos = data.find(_START, pos + 3)
    return headers


def _prefixed_headers(data: bytes, size: int) -> list[bytes] | str:
    """NAL headers of a length-prefixed packet."""
    headers, pos = [], 0
    while pos < len(data):
        length = int.from_bytes(data[pos:pos + size], "big")
        pos += size
        if length == 0 or pos + length > len(data):
            return "NAL unit length runs past the packet"
        headers.append(data[pos:pos + 2])
        pos += length
    return headers


def _judge_h264(headers: list[bytes]) -> str | None:
    """Why these H.264 NAL headers are not a frame, or None."""
    slices = False
    for header in headers:
        if not header:
            return "empty NAL unit"
        if header[0] & 0x80:
            return "forbidden bit set"
        kind = header[0] & 0x1F
        if kind in _H264_BAD:
            return f"reserved NAL unit type {kind}"
        slices = slices or kind in _H264_SLICES
    return None if slices else "no slice"


def _judge_hevc(headers: list[bytes]) -> str | None:
    """Why these H.265 NAL headers are not a frame, or None."""
    slices = False
    for header in headers:
        if len(header) < 2:
            return "empty NAL unit"
        if header[0] & 0x80:
            return "forbidden bit set"
        if not header[1] & 0x07:
            return "temporal id of zero"
        kind = (header[0] >> 1) & 0x3F
        if kind in _HEVC_BAD:
            return f"reserved NAL unit type {kind}"
        slices = slices or kind in _HEVC_SLICES
    return None if slices else "no slice"
