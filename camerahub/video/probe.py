"""Checking a segment file: is it playable evidence, how long, how many frames."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

log = logging.getLogger(__name__)

# Decoders buffer a few packets (B-frames) before the first frame comes out.
_DECODE_PROBE_PACKETS = 16


@dataclass(frozen=True)
class SegmentCheck:
    """What probe_segment found; `playable` is the verdict, `reason` says why not."""

    playable: bool
    reason: str | None = None
    duration_ms: int = 0
    frames: int = 0
    keyframes: int = 0
    corrupt_packets: int = 0
    first_is_keyframe: bool = False
    codec: str = ""
    width: int = 0
    height: int = 0


@dataclass
class _Tally:
    """Packet counts while demuxing."""

    frames: int = 0
    keyframes: int = 0
    corrupt: int = 0
    first_key: bool = False
    first_pts: int | None = None
    end_pts: int | None = None


def probe_segment(path: Path | str) -> SegmentCheck:
    """Demux a segment (decoding one frame) and say whether it is playable."""
    try:
        with av.open(str(path)) as container:
            return _check(container)
    except av.error.FFmpegError as exc:
        return SegmentCheck(False, f"cannot demux: {exc}")


def _check(container: av.container.InputContainer) -> SegmentCheck:
    """Probe an opened container."""
    if not container.streams.video:
        return SegmentCheck(False, "no video stream")
    stream = container.streams.video[0]
    tally, decoded = _tally(container, stream)
    return SegmentCheck(**_verdict(tally, decoded, stream))


def _verdict(tally: _Tally, decoded: bool, stream: av.VideoStream) -> dict:
    """Fill in playable/reason from the tally."""
    reason = None
    if tally.frames == 0:
        reason = "no video packets"
    elif not tally.first_key:
        reason = "first packet is not a keyframe"
    elif not decoded:
        reason = "first keyframe does not decode"
    return {
        "playable": reason is None, "reason": reason, "duration_ms": _duration_ms(tally, stream),
        "frames": tally.frames, "keyframes": tally.keyframes, "corrupt_packets": tally.corrupt,
        "first_is_keyframe": tally.first_key, "codec": stream.codec_context.name,
        "width": stream.width or 0, "height": stream.height or 0,
    }


def _tally(container, stream) -> tuple[_Tally, bool]:
    """Count packets and try to decode the first frame."""
    tally, decoded = _Tally(), False
    try:
        for packet in container.demux(stream):
            if packet.size == 0 or packet.dts is None:
                continue
            _count(tally, packet)
            if not decoded and tally.frames <= _DECODE_PROBE_PACKETS:
                decoded = _decodes(stream, packet)
    except av.error.FFmpegError as exc:
        # A truncated tail ends demuxing early; what came before still counts.
        log.info("demux stopped early: %s", exc)
    return tally, decoded or _flush_decodes(stream)


def _count(tally: _Tally, packet: av.Packet) -> None:
    """Add one packet to the tally."""
    pts = packet.pts if packet.pts is not None else packet.dts
    if tally.frames == 0:
        tally.first_key, tally.first_pts = bool(packet.is_keyframe), pts
    tally.frames += 1
    tally.keyframes += int(packet.is_keyframe)
    tally.corrupt += int(packet.is_corrupt)
    tally.first_pts = min(tally.first_pts, pts)
    end = pts + (packet.duration or 0)
    tally.end_pts = end if tally.end_pts is None else max(tally.end_pts, end)


def _decodes(stream, packet: av.Packet) -> bool:
    """Whether feeding this packet produced a frame."""
    try:
        return bool(stream.codec_context.decode(packet))
    except av.error.FFmpegError:
        return False


def _flush_decodes(stream) -> bool:
    """Whether draining the decoder yields a frame (short segments)."""
    try:
        return bool(stream.codec_context.decode(None))
    except av.error.FFmpegError:
        return False


def _duration_ms(tally: _Tally, stream: av.VideoStream) -> int:
    """Stream-time duration of the demuxed packets."""
    if tally.first_pts is None or tally.end_pts is None:
        return 0
    return round((tally.end_pts - tally.first_pts) * Fraction(stream.time_base) * 1000)
