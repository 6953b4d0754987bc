"""Checking a segment file: is it playable evidence, how long, how many frames.

`probe_segment` judges a whole file; `salvage_segment` finds the longest prefix of a file a
crash may have cut short (the spool's recovery keeps that prefix and quarantines the rest).

Playable means: the file holds whole 188-byte TS packets (MPEG-TS), its first packet is a
keyframe that decodes, and every frame of its last GOP decodes, down to the last one (the
GOP before it is decoded too, as the references an open GOP's first frames point back to).
The decoder runs single-threaded with FFmpeg's `err_detect=explode`, so a damaged
macroblock is an error here instead of a log line and a concealed picture. Only the first
keyframe and the tail are decoded: a crash or a cut damages the tail, power loss leaves
zeros that break the TS sync bytes (checked for every packet), and decoding a whole 1080p
segment (0.4 s of CPU) costs five to ten times more at a restart with a hundred cameras.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import av

log = logging.getLogger(__name__)

TS_PACKET = 188
TS_SYNC = 0x47
_SCAN_CHUNK = TS_PACKET * 4096  # 770 KB read at a time while checking sync bytes
_SALVAGE_ATTEMPTS = 8  # each attempt cuts before a frame that failed to decode
_VIDEO_STREAM_IDS = range(0xE0, 0xF0)  # PES stream_id of MPEG video streams


@dataclass(frozen=True)
class SegmentCheck:
    """What a probe found; `playable` is the verdict, `reason` says why not (or what was cut).

    `playable_bytes` is how many leading bytes of the file the verdict covers: the whole file
    for probe_segment, the salvageable prefix for salvage_segment. `size` is the file's size.
    """

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
    playable_bytes: int = 0
    size: int = 0


@dataclass
class _Tally:
    """Packet counts while demuxing, and what the decoder said."""

    frames: int = 0
    keyframes: int = 0
    corrupt: int = 0
    first_key: bool = False
    first_pts: int | None = None
    end_pts: int | None = None
    first_decodes: bool = False
    bad_pos: int | None = None  # where the first packet that fails begins, if known
    failure: str | None = None


def probe_segment(path: Path | str) -> SegmentCheck:
    """Judge a whole segment file: playable evidence as it is, or not (and why)."""
    path = Path(path)
    size = path.stat().st_size
    if _is_ts(path) and size % TS_PACKET:
        return SegmentCheck(False, f"{size} bytes is not a whole number of {TS_PACKET}-byte "
                                   f"TS packets", size=size)
    check = _examine(path, size, size)
    if check.playable and _is_ts(path) and _whole_ts_prefix(path, size) < size:
        return replace(check, playable=False, playable_bytes=0,
                       reason="a TS packet has lost its sync byte")
    return check


def salvage_segment(path: Path | str) -> SegmentCheck:
    """The longest prefix of a possibly truncated segment that is playable evidence.

    For MPEG-TS: whole packets with their sync byte, ending with the last complete access
    unit (the PES that another PES follows), then cut before any frame of the last GOP
    that does not decode. The measurements describe that prefix; `reason` says what was cut.
    """
    path = Path(path)
    size = path.stat().st_size
    if not _is_ts(path):
        return _examine(path, size, size)
    whole = _whole_ts_prefix(path, size)
    keep = _complete_pes_prefix(path, whole)
    cuts = _cut_reasons(size, whole, keep)
    for _ in range(_SALVAGE_ATTEMPTS):
        if keep <= 0:
            break
        check, bad_pos = _examine_prefix(path, keep, size)
        if bad_pos is None or not 0 < bad_pos < keep:
            return _with_cuts(check, cuts, size)
        cuts.append(f"frame at byte {bad_pos} does not decode")
        keep = bad_pos
    return SegmentCheck(False, "; ".join(cuts) or "nothing playable", size=size)


def _is_ts(path: Path) -> bool:
    """Whether a file is MPEG-TS (by its first byte; empty files are judged by name)."""
    with open(path, "rb") as fh:
        first = fh.read(1)
    return first == bytes((TS_SYNC,)) if first else path.suffix == ".ts"


def _cut_reasons(size: int, whole: int, keep: int) -> list[str]:
    """Human words for what the structural trim removed."""
    cuts = []
    if whole < size:
        cuts.append(f"{size - whole} bytes after the last whole TS packet")
    if keep < whole:
        cuts.append(f"{whole - keep} bytes of an incomplete access unit")
    return cuts


def _with_cuts(check: SegmentCheck, cuts: list[str], size: int) -> SegmentCheck:
    """A salvage verdict with the cuts spelled out (a failed verdict keeps its own reason)."""
    if not check.playable:
        return replace(check, reason="; ".join([*cuts, check.reason or "not playable"]),
                       size=size)
    return replace(check, reason="; ".join(cuts) or None, size=size)


def _examine(path: Path, keep: int, size: int) -> SegmentCheck:
    """Probe the first `keep` bytes; a frame that does not decode makes them unplayable."""
    check, bad_pos = _examine_prefix(path, keep, size)
    if check.playable and bad_pos is not None:
        return replace(check, playable=False, playable_bytes=0,
                       reason=f"frame at byte {bad_pos} does not decode")
    return check


def _examine_prefix(path: Path, keep: int, size: int) -> tuple[SegmentCheck, int | None]:
    """Demux `keep` bytes, decode the first keyframe and the last GOP; (verdict, bad_pos)."""
    try:
        with _open(path, keep, size) as container:
            if not container.streams.video:
                return SegmentCheck(False, "no video stream", size=size), None
            stream = container.streams.video[0]
            tally = _tally(container, stream)
            verdict = _verdict(tally, stream)
    except av.error.FFmpegError as exc:
        return SegmentCheck(False, f"cannot demux: {exc}", size=size), None
    return SegmentCheck(**verdict, playable_bytes=keep if verdict["playable"] else 0,
                        size=size), tally.bad_pos


def _open(path: Path, keep: int, size: int) -> av.container.InputContainer:
    """Open the whole file, or only its first `keep` bytes."""
    if keep >= size:
        return av.open(str(path))
    return av.open(_Prefix(path, keep), format="mpegts")


def _verdict(tally: _Tally, stream: av.VideoStream) -> dict:
    """Fill in playable/reason from the tally."""
    reason = None
    if tally.frames == 0:
        reason = "no video packets"
    elif not tally.first_key:
        reason = "first packet is not a keyframe"
    elif not tally.first_decodes:
        reason = "first keyframe does not decode"
    elif tally.failure:
        reason = tally.failure
    return {
        "playable": reason is None, "reason": reason, "duration_ms": _duration_ms(tally, stream),
        "frames": tally.frames, "keyframes": tally.keyframes, "corrupt_packets": tally.corrupt,
        "first_is_keyframe": tally.first_key, "codec": stream.codec_context.name,
        "width": stream.width or 0, "height": stream.height or 0,
    }


def _tally(container: av.container.InputContainer, stream: av.VideoStream) -> _Tally:
    """Count every packet; decode the first one and the last two GOPs."""
    tally, tail = _Tally(), _Tail()
    try:
        for packet in container.demux(stream):
            if packet.size == 0 or packet.dts is None:
                continue
            if tally.frames == 0:
                tally.first_decodes = _decodes(stream, [packet]) is None
            _count(tally, packet)
            if packet.is_corrupt and tally.bad_pos is None:
                tally.bad_pos, tally.failure = packet.pos, "the demuxer marked a packet corrupt"
            tail.add(packet)
    except av.error.FFmpegError as exc:
        # A damaged tail ends demuxing early: the last packet read is suspect too.
        log.info("demux stopped early: %s", exc)
        tally.failure = f"demux stopped early: {exc}"
        if tail.packets() and tally.bad_pos is None:
            tally.bad_pos = tail.packets()[-1].pos
    _check_tail(tally, stream, tail.packets())
    return tally


class _Tail:
    """The packets of the last two GOPs: the last one decodes with its references at hand
    even when its leading frames point back into the one before (open GOPs)."""

    def __init__(self) -> None:
        self.previous: list[av.Packet] = []
        self.current: list[av.Packet] = []

    def add(self, packet: av.Packet) -> None:
        """Keep a packet, forgetting the GOP before last at each keyframe."""
        if packet.is_keyframe and self.current:
            self.previous, self.current = self.current, []
        self.current.append(packet)

    def packets(self) -> list[av.Packet]:
        """The kept packets in file order."""
        return self.previous + self.current


def _check_tail(tally: _Tally, stream: av.VideoStream, packets: list[av.Packet]) -> None:
    """Decode the tail to its last frame; note where the first failure begins."""
    if not packets:
        return
    failed_at = _decodes(stream, packets)
    if failed_at is None:
        return
    position = packets[failed_at].pos
    if tally.bad_pos is None or (position is not None and position < tally.bad_pos):
        tally.bad_pos = position
    tally.failure = tally.failure or "a frame of the last GOP does not decode"


def _decodes(stream: av.VideoStream, packets: list[av.Packet]) -> int | None:
    """Decode packets with a strict, fresh decoder; the index of the first failure, or None.

    A flush that fails, or yields fewer frames than packets went in, blames the last packet.
    """
    decoder = strict_decoder(stream)
    frames = 0
    for index, packet in enumerate(packets):
        try:
            frames += len(decoder.decode(packet))
        except av.error.FFmpegError:
            return index
    try:
        frames += len(decoder.decode(None))
    except av.error.FFmpegError:
        return len(packets) - 1
    return None if frames >= len(packets) else len(packets) - 1


def strict_decoder(stream: av.VideoStream) -> av.CodecContext:
    """A single-threaded decoder for the stream's codec that fails on any damaged frame."""
    decoder = av.CodecContext.create(stream.codec_context.name, "r")
    if stream.codec_context.extradata:
        decoder.extradata = stream.codec_context.extradata
    # Frame threads report errors late or not at all; explode turns concealment into errors.
    decoder.thread_count = 1
    decoder.options = {"err_detect": "explode"}
    return decoder


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


def _duration_ms(tally: _Tally, stream: av.VideoStream) -> int:
    """Stream-time duration of the demuxed packets."""
    if tally.first_pts is None or tally.end_pts is None:
        return 0
    return round((tally.end_pts - tally.first_pts) * Fraction(stream.time_base) * 1000)


# --- MPEG-TS structure -------------------------------------------------------------------------

def _whole_ts_prefix(path: Path, size: int) -> int:
    """Bytes up to the first partial packet or packet without its sync byte."""
    good = 0
    with open(path, "rb") as fh:
        while good + TS_PACKET <= size:
            chunk = fh.read(min(_SCAN_CHUNK, (size - good) // TS_PACKET * TS_PACKET))
            syncs = chunk[::TS_PACKET]
            leading = len(syncs) - len(syncs.lstrip(bytes((TS_SYNC,))))
            good += leading * TS_PACKET
            if leading < len(syncs) or not chunk:
                break
    return good


def _complete_pes_prefix(path: Path, whole: int) -> int:
    """Bytes up to the last video PES known to be complete.

    A video PES usually declares no length (FFmpeg's muxer omits it), so it is known to be
    whole only when the next PES of the stream begins: the prefix ends where the last one
    begins, unless that one declares a length it reaches.
    """
    with open(path, "rb") as fh:
        start = whole - TS_PACKET
        while start >= 0:
            fh.seek(start)
            header = fh.read(TS_PACKET)
            declared = _video_pes_start(header)
            if declared is not None:
                if declared and _pes_bytes(fh, header, start, whole) >= 6 + declared:
                    return whole
                return start
            start -= TS_PACKET
    return 0


def _payload(packet: bytes) -> bytes:
    """The payload of one TS packet (empty if it carries only an adaptation field)."""
    control = (packet[3] >> 4) & 3
    if not control & 1:
        return b""
    offset = 4 + (1 + packet[4] if control & 2 else 0)
    return packet[offset:] if offset < TS_PACKET else b""


def _pid(packet: bytes) -> int:
    """The packet's PID."""
    return ((packet[1] & 0x1F) << 8) | packet[2]


def _video_pes_start(packet: bytes) -> int | None:
    """If this packet starts a video PES: its declared PES_packet_length (0: unbounded)."""
    if len(packet) < TS_PACKET or not packet[1] & 0x40:
        return None
    payload = _payload(packet)
    if len(payload) < 6 or payload[:3] != b"\x00\x00\x01" or payload[3] not in _VIDEO_STREAM_IDS:
        return None
    return int.from_bytes(payload[4:6], "big")


def _pes_bytes(fh: io.BufferedReader, first: bytes, start: int, whole: int) -> int:
    """Payload bytes of the PES beginning at `start`, up to `whole`, on its PID."""
    pid, total = _pid(first), 0
    fh.seek(start)
    for _ in range((whole - start) // TS_PACKET):
        packet = fh.read(TS_PACKET)
        if _pid(packet) == pid:
            total += len(_payload(packet))
    return total


class _Prefix(io.RawIOBase):
    """The first `limit` bytes of a file, as a seekable read-only stream for the demuxer."""

    def __init__(self, path: Path, limit: int) -> None:
        super().__init__()
        self._file = open(path, "rb")  # noqa: SIM115 - closed in close()
        self._limit = limit

    def readable(self) -> bool:
        """It can be read."""
        return True

    def seekable(self) -> bool:
        """It can be sought."""
        return True

    def readinto(self, buffer) -> int:
        """Read up to the limit."""
        room = max(0, min(len(buffer), self._limit - self._file.tell()))
        data = self._file.read(room)
        buffer[:len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Seek within the prefix (SEEK_END counts from the limit)."""
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._file.tell(), io.SEEK_END: self._limit}
        return self._file.seek(min(self._limit, max(0, base[whence] + offset)))

    def tell(self) -> int:
        """The current position."""
        return self._file.tell()

    def close(self) -> None:
        """Close the file."""
        self._file.close()
        super().close()
