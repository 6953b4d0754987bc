"""Remux (never transcode) a live H.264 stream into fragmented MP4, one fragment per frame.

FFmpeg's mp4 muxer writes the init segment (ftyp+moov with the avcC built from the SDP's
parameter sets). Its own fragments would leave only when the *next* frame arrives (a frame
interval of added latency, 100 ms at 10 fps), so the fragments are written here instead:
one moof+mdat per access unit, as soon as its packet comes out of the demuxer.
"""

from __future__ import annotations

import contextlib
import struct
import time
from fractions import Fraction

import av

from .boxes import BoxSplitter, Fragment, _find

MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof"
MUXER_OPTIONS = {"movflags": MOVFLAGS, "flush_packets": "1"}
KEY_FLAGS = 0x02000000  # sample_depends_on = 2 (an I picture)
DELTA_FLAGS = 0x01010000  # sample_depends_on = 1, sample_is_non_sync_sample
TRUN_FLAGS = 0x000001 | 0x000100 | 0x000200 | 0x000400 | 0x000800  # offset, dur, size, flags, cto
DEFAULT_FPS = 15
# A fragment leaves before the next frame arrives, so its duration is the latest interval
# between frames. An interval longer than HOLE_S, and than HOLE_FRAMES of the stream's
# nominal frames, is a hole (frames lost, a camera that paused), not a frame's duration:
# given to the frame after it, it would claim video up to a time no frame has reached, and
# a player that keeps near the newest buffered time would jump there and show nothing
# until real frames caught up. Such a frame keeps the interval before the hole.
HOLE_S = 1.0
HOLE_FRAMES = 4


class _Sink:
    """A non-seekable file object that forwards the muxer's writes to a BoxSplitter."""

    def __init__(self, splitter: BoxSplitter) -> None:
        self.splitter = splitter
        self.ready: list[bytes | Fragment] = []

    def write(self, data: bytes) -> int:
        """Split what the muxer wrote into init segment and fragments."""
        self.ready += self.splitter.feed(bytes(data))
        return len(data)


def _box(kind: bytes, *parts: bytes) -> bytes:
    body = b"".join(parts)
    return struct.pack(">I4s", 8 + len(body), kind) + body


def _full(kind: bytes, version: int, flags: int, *parts: bytes) -> bytes:
    return _box(kind, struct.pack(">I", (version << 24) | flags), *parts)


def annexb_to_avcc(data: bytes) -> bytes:
    """Annex B (start codes, as FFmpeg's RTP depacketizer gives H.264) to 4-byte lengths;
    data without a leading start code is taken as length-prefixed already."""
    if not (data.startswith(b"\x00\x00\x01") or data.startswith(b"\x00\x00\x00\x01")):
        return data
    out = bytearray()
    pos = data.find(b"\x00\x00\x01")
    while pos >= 0:
        start = pos + 3
        nxt = data.find(b"\x00\x00\x01", start)
        end = len(data) if nxt < 0 else nxt
        nal = data[start:end]
        if nxt >= 0 and nal.endswith(b"\x00"):
            nal = nal[:-1]  # the zero of a 4-byte start code belongs to the next one
        if nal:
            out += struct.pack(">I", len(nal)) + nal
        pos = nxt
    return bytes(out)


def codec_string(init: bytes) -> str:
    """The RFC 6381 codecs value of the init segment's H.264 track (avc1.PPCCLL)."""
    at = init.find(b"avcC")
    if at < 0 or at + 8 > len(init):
        return "avc1.42e01e"
    profile, compat, level = init[at + 5], init[at + 6], init[at + 7]
    return f"avc1.{profile:02x}{compat:02x}{level:02x}"


def _timescale_and_track(init: bytes) -> tuple[int, int]:
    mdhd = _find(init, 0, len(init), (b"moov", b"trak", b"mdia", b"mdhd"))
    tkhd = _find(init, 0, len(init), (b"moov", b"trak", b"tkhd"))
    if mdhd is None or tkhd is None:
        raise ValueError("init segment without mdhd/tkhd")
    v = init[mdhd]
    scale = struct.unpack_from(">I", init, mdhd + (20 if v == 1 else 12))[0]
    track = struct.unpack_from(">I", init, tkhd + (20 if init[tkhd] == 1 else 12))[0]
    return scale, track


class FrameFragments:
    """moof+mdat per access unit for the track of an init segment."""

    def __init__(self, init: bytes, time_base: Fraction, fps: float | None) -> None:
        self.timescale, self.track = _timescale_and_track(init)
        self.ratio = Fraction(time_base) * self.timescale
        self.default = round(self.timescale / (fps or DEFAULT_FPS))
        # below one frame a second a "nominal" rate says nothing of the holes in a stream
        nominal = self.timescale / max(fps or DEFAULT_FPS, 1.0)
        self.hole = round(max(self.timescale * HOLE_S, HOLE_FRAMES * nominal))
        self.seq = 0
        self.last_dts: int | None = None

    def fragment(self, data: bytes, dts: int, pts: int, key: bool, received: float) -> Fragment:
        """The fragment of one packet (dts/pts relative to the stream's first keyframe)."""
        d, p = round(dts * self.ratio), round(pts * self.ratio)
        if self.last_dts is not None and 0 < d - self.last_dts <= self.hole:
            self.default = d - self.last_dts  # the latest interval, unless it was a hole
        duration = self.default
        self.last_dts = d
        self.seq += 1
        sample = annexb_to_avcc(data)
        mfhd = _full(b"mfhd", 0, 0, struct.pack(">I", self.seq))
        tfhd = _full(b"tfhd", 0, 0x020000, struct.pack(">I", self.track))
        tfdt = _full(b"tfdt", 1, 0, struct.pack(">Q", d))

        def trun(offset: int) -> bytes:
            return _full(b"trun", 1, TRUN_FLAGS, struct.pack(
                ">IiIIIi", 1, offset, duration, len(sample),
                KEY_FLAGS if key else DELTA_FLAGS, p - d))

        size = len(_box(b"moof", mfhd, _box(b"traf", tfhd, tfdt, trun(0))))
        moof = _box(b"moof", mfhd, _box(b"traf", tfhd, tfdt, trun(size + 8)))
        data_out = moof + _box(b"mdat", sample)
        # tfdt's 64-bit value: moof(8) mfhd(16) traf(8) tfhd(16) tfdt header(12)
        return Fragment(data_out, d, 8 + 16 + 8 + 16 + 12, key, received)


class FragmentMuxer:
    """Packets of one input video stream in; init segment and per-frame fragments out."""

    def __init__(self, stream: av.video.stream.VideoStream) -> None:
        self.input = stream
        self.sink = _Sink(BoxSplitter())
        self.output: av.container.OutputContainer | None = av.open(
            self.sink, "w", format="mp4", options=MUXER_OPTIONS)
        self.stream = self.output.add_stream_from_template(stream)
        self.origin: int | None = None
        self.frames: FrameFragments | None = None

    @property
    def size(self) -> tuple[int, int]:
        """Width and height of the video."""
        return self.input.width, self.input.height

    def feed(self, packet: av.Packet) -> list[bytes | Fragment]:
        """One packet in; the init segment (first time) and the packet's fragment out."""
        received = time.time()
        if packet.size == 0:
            return []
        raw = packet.dts
        if raw is None:
            if self.origin is not None or not packet.is_keyframe:
                return []
            # FFmpeg's RTP demuxer counts a stream's time from its first packet (0), and
            # the stream probing in av.open hands that packet back without timestamps:
            # dropping it would make the first picture wait a whole GOP for the next one.
            raw = 0
        if self.origin is None:
            if not packet.is_keyframe:
                return []  # a viewer's stream must open on a keyframe
            self.origin = raw
        dts = raw - self.origin
        pts = dts if packet.pts is None else packet.pts - self.origin
        if dts < 0:
            return []  # a late packet from before the first keyframe
        out: list[bytes | Fragment] = []
        if self.frames is None:
            out += self._init(packet)
            if self.frames is None:
                return out
        fragment = self.frames.fragment(bytes(packet), dts, pts, packet.is_keyframe, received)
        out.append(fragment)
        return out

    def _init(self, packet: av.Packet) -> list[bytes | Fragment]:
        """Let FFmpeg write the header (it does at the first packet), keep ftyp+moov only."""
        assert self.output is not None
        copy = av.Packet(bytes(packet))
        copy.dts, copy.pts, copy.stream = 0, 0, self.stream
        copy.is_keyframe = True
        self.output.mux(copy)
        init = next((u for u in self.sink.ready if isinstance(u, bytes)), None)
        if init is None:
            return []
        self.close()
        rate = self.input.average_rate or self.input.guessed_rate
        self.frames = FrameFragments(init, self.input.time_base, float(rate) if rate else None)
        return [init]

    def close(self) -> None:
        """Close FFmpeg's muxer (its trailer and its own fragments are not needed)."""
        output, self.output = self.output, None
        if output is not None:
            with contextlib.suppress(av.error.FFmpegError):
                output.close()
