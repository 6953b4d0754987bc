"""Clip export: stream-copy a run of segments into one fragmented MP4, trimmed on keyframes.

The MP4 is fragmented (`frag_keyframe+empty_moov+default_base_moof`): the moov comes
first and each GOP is a self-contained fragment, so the first bytes can be sent to the
browser while later segments are still being fetched from storage, and the output never
needs to seek. Gaps between segments are closed up: the clip's timeline is the
concatenation of the segments' stream time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import av

from camerahub.video.errors import SegmentUnreadable, VideoError

log = logging.getLogger(__name__)

MP4_MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof"
SegmentSource = Path | str | BinaryIO


class _ChunkSink:
    """A write-only, non-seekable file object that collects what the muxer writes."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        """Keep a copy of the bytes."""
        self.chunks.append(bytes(data))
        return len(data)

    def drain(self) -> bytes:
        """Return and forget everything written so far."""
        data, self.chunks = b"".join(self.chunks), []
        return data


@dataclass
class _Trim:
    """Keyframe-aligned trimming state over the clip timeline (seconds)."""

    start_s: float
    end_s: float | None
    started: bool = False
    gop: list = field(default_factory=list)

    def feed(self, packet: av.Packet, position_s: float) -> tuple[list, bool]:
        """Return (packets to write now, whether the clip is complete)."""
        if self.started:
            return self._after_start(packet, position_s)
        if packet.is_keyframe and position_s <= self.start_s:
            self.gop = [packet]  # the latest keyframe at/before start opens the clip
            return [], False
        if not packet.is_keyframe:
            if self.gop:
                self.gop.append(packet)
            return [], False
        self.started = True
        held, self.gop = self.gop, []
        after, complete = self._after_start(packet, position_s)
        return held + after, complete

    def _after_start(self, packet: av.Packet, position_s: float) -> tuple[list, bool]:
        """Write until the first keyframe at/after the end."""
        if packet.is_keyframe and self.end_s is not None and position_s >= self.end_s:
            return [], True
        return [packet], False


class _Concat:
    """Shifts each segment's timestamps so the segments follow one another."""

    def __init__(self) -> None:
        self.cursor = 0  # next free dts on the clip timeline, in the output time base
        self.shift = 0
        self.zero_pts: int | None = None

    def begin(self, first_dts: int) -> None:
        """Start a segment whose first packet has this dts."""
        self.shift = self.cursor - first_dts

    def place(self, packet: av.Packet, step: int) -> None:
        """Move a packet onto the clip timeline and advance the cursor."""
        packet.dts += self.shift
        packet.pts = packet.dts if packet.pts is None else packet.pts + self.shift
        if self.zero_pts is None:
            self.zero_pts = packet.pts
        self.cursor = max(self.cursor, packet.dts + (packet.duration or step))


def iter_mp4(
    segments: Iterable[SegmentSource], start_offset: float = 0.0, end_offset: float | None = None
) -> Iterator[bytes]:
    """Yield a fragmented MP4 of the segments, trimmed to [start_offset, end_offset] seconds."""
    sink = _ChunkSink()
    writer = _ClipWriter(sink, _Trim(start_offset, end_offset))
    try:
        for source in segments:
            writer.add_segment(source)
            if chunk := sink.drain():
                yield chunk
            if writer.done:
                break
    finally:
        writer.close()
    if chunk := sink.drain():
        yield chunk


def remux_to_mp4(
    segments: Iterable[SegmentSource],
    start_offset: float,
    end_offset: float | None,
    out: BinaryIO | Path | str,
) -> int:
    """Write one MP4 of the segments to a file or file object; return bytes written."""
    if isinstance(out, Path | str):
        with open(out, "wb") as fh:
            return remux_to_mp4(segments, start_offset, end_offset, fh)
    written = 0
    for chunk in iter_mp4(segments, start_offset, end_offset):
        out.write(chunk)
        written += len(chunk)
    return written


class _ClipWriter:
    """Feeds segments through trimming and timestamp shifting into the MP4 muxer."""

    def __init__(self, sink: _ChunkSink, trim: _Trim) -> None:
        self.sink, self.trim = sink, trim
        self.concat = _Concat()
        self.output = None
        self.out_stream = None
        self.time_base: Fraction | None = None
        self.clip_origin: int | None = None
        self.done = False

    def add_segment(self, source: SegmentSource) -> None:
        """Append one segment's packets to the clip."""
        try:
            with av.open(_input_name(source), format="mpegts") as container:
                self._copy(container)
        except av.error.FFmpegError as exc:
            raise SegmentUnreadable(f"cannot read segment {_describe(source)}: {exc}") from exc

    def _copy(self, container) -> None:
        """Copy packets of the first video stream."""
        if not container.streams.video:
            raise SegmentUnreadable("segment has no video stream")
        stream = container.streams.video[0]
        self._ensure_output(stream)
        first = True
        for packet in container.demux(stream):
            if packet.dts is None or packet.size == 0:
                continue
            if first:
                self.concat.begin(self._rescale(packet.dts, stream))
                first = False
            if not self._place_and_write(packet, stream):
                self.done = True
                return

    def _place_and_write(self, packet: av.Packet, stream) -> bool:
        """Shift, trim and mux one packet; False once the clip's end is reached."""
        self._to_clip_time_base(packet, stream)
        self.concat.place(packet, self._frame_step(stream))
        position = float((packet.pts - self.concat.zero_pts) * self.time_base)
        ready, complete = self.trim.feed(packet, position)
        for held in ready:
            self._mux(held)
        return not complete

    def _mux(self, packet: av.Packet) -> None:
        """Rebase to the clip's first written packet and mux."""
        if self.clip_origin is None:
            self.clip_origin = packet.dts
        packet.dts -= self.clip_origin
        packet.pts -= self.clip_origin
        packet.stream = self.out_stream
        self.output.mux(packet)

    def _ensure_output(self, stream) -> None:
        """Open the MP4 muxer from the first segment's stream parameters."""
        if self.output is None:
            self.output = av.open(self.sink, "w", format="mp4",
                                  options={"movflags": MP4_MOVFLAGS})
            self.out_stream = self.output.add_stream_from_template(stream)
            self.time_base = Fraction(stream.time_base)
        elif (stream.width, stream.height) != (self.out_stream.width, self.out_stream.height):
            raise VideoError("video size changed between segments; export the parts separately")

    def _to_clip_time_base(self, packet: av.Packet, stream) -> None:
        """Rescale a packet's timestamps; TS segments all use 1/90000, so rarely needed."""
        if Fraction(stream.time_base) == self.time_base:
            return
        packet.dts = self._rescale(packet.dts, stream)
        packet.pts = None if packet.pts is None else self._rescale(packet.pts, stream)
        packet.duration = self._rescale(packet.duration or 0, stream)
        packet.time_base = self.time_base

    def _rescale(self, value: int, stream) -> int:
        """Convert a timestamp of this stream to the clip's time base."""
        return round(value * Fraction(stream.time_base) / self.time_base)

    def _frame_step(self, stream) -> int:
        """One frame interval in the clip time base, for packets without duration."""
        rate = stream.average_rate or stream.guessed_rate or 25
        return max(1, round(1 / (Fraction(rate) * self.time_base)))

    def close(self) -> None:
        """Finish the MP4 (no-op if nothing was opened)."""
        if self.output is not None and not self.trim.started:
            for packet in self.trim.gop:  # the whole range lies in the last GOP
                self._mux(packet)
        if self.output is not None:
            self.output.close()
            self.output = None


def _input_name(source: SegmentSource):
    """PyAV accepts a path string or a readable file object."""
    return str(source) if isinstance(source, Path) else source


def _describe(source: SegmentSource) -> str:
    """A short name of a source for error messages."""
    return str(source) if isinstance(source, Path | str) else type(source).__name__
