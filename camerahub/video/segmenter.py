"""Stream-copy segmenter: camera packets are remuxed, never decoded, into spool segments.

Container: MPEG-TS. Why not fragmented MP4:
- A kill -9 mid-segment leaves a TS file that is valid up to its last complete 188-byte
  packet (all but the muxer's last 64 KiB reached the OS): no header to patch, no index at
  the end, so `probe_segment` can demux it, decide "playable" and finalize it as is, or
  quarantine it. A fragmented MP4 also survives but loses the whole unfinished fragment
  (a GOP or more) and needs box-level repair to be trimmed.
- Power loss is different: segments are fsynced when closed, so the open one can lose
  what the OS had not yet written; recovery treats it like any truncated file.
- Each TS segment is self-contained (PAT/PMT at its start, SPS/PPS repeated by FFmpeg's
  muxer on every keyframe), so it plays alone, is a valid HLS media segment as is (no
  separate init segment to store and keep consistent), and `remux_to_mp4` stream-copies
  a run of them into one MP4 for clip.mp4.
- Cost: 2-4 % container overhead, accepted for robustness.

Only the first video stream is recorded; audio tracks are not copied.

Timing: a session anchors to the recorder's wall clock (UTC) at receipt of its first
packet; every segment start is anchor + stream time of its first keyframe, in whole
milliseconds, so consecutive segments abut exactly (start + duration_ms == next start).
The anchor is renewed after a reconnect (new session), a timestamp discontinuity, or when
stream time and wall clock drift apart by more than `drift_threshold_s`.

Files are not the segmenter's business: it writes the muxer's bytes into a SegmentSink
(camerahub.video.sink) and reports what it measured; the sink names, hashes, fsyncs and
commits them (camerahub.storage.SpoolSink for the spool).

Reconnects are the caller's choice: `Segmenter.record` runs one session and always ends
with a StreamError (or returns when `stop` is set); `run_camera` is a ready-made loop with
capped exponential backoff that reports every gap to a callback.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Generic, TypeVar

import av

from camerahub import retry
from camerahub.video.errors import StreamEnded, StreamError, StreamOpenError, VideoError
from camerahub.video.sink import SegmentFile, SegmentSink
from camerahub.video.source import InputOptions, open_input, redact, translate_read_error

log = logging.getLogger(__name__)

SEGMENT_EXT = "ts"
# Same rule as storage keys (kept here because video imports nothing of ours): ids end up
# in file names and object keys, so no slashes, dots or spaces.
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_WRITE_BUFFER = 64 * 1024
Item = TypeVar("Item")  # what the sink returns for a committed segment


@dataclass(frozen=True)
class SegmenterConfig:
    """Segment length and timing tolerances."""

    segment_seconds: float = 10.0
    drift_threshold_s: float | None = 2.0
    max_timestamp_jump_s: float = 5.0
    input: InputOptions = field(default_factory=InputOptions)


def utc_now_ms() -> datetime:
    """Return the wall clock in UTC, floored to the millisecond."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class _Clock:
    """Maps stream timestamps to UTC in whole milliseconds from one anchor."""

    def __init__(self, wall: datetime, pts: int, time_base: Fraction) -> None:
        self.wall, self.pts, self.time_base = wall, pts, time_base

    def offset_ms(self, pts: int) -> int:
        """Milliseconds of stream time from the anchor to pts."""
        return round((pts - self.pts) * self.time_base * 1000)

    def utc(self, pts: int) -> datetime:
        """The UTC time of a stream timestamp."""
        return self.wall + timedelta(milliseconds=self.offset_ms(pts))


class _SegmentMuxer:
    """One segment being muxed into a sink's file, counting what goes in."""

    def __init__(self, file: SegmentFile, template: av.VideoStream, start_pts: int) -> None:
        self.file, self.start_pts, self.end_pts = file, start_pts, start_pts
        self.frames = self.keyframes = 0
        # The muxer hands the file its buffer every _WRITE_BUFFER bytes: what a kill -9 can
        # take from the segment in progress (0.2 s of a 3 Mbit/s stream), far inside "at most
        # the segment in progress". Writing every frame (flush_packets) cost 8 % more CPU.
        # The file hashes what it is handed, so the checksum needs no second read.
        self.container = av.open(file, "w", format="mpegts", buffer_size=_WRITE_BUFFER,
                                 container_options={"flush_packets": "0"})
        self.stream = self.container.add_stream_from_template(template)

    def write(self, packet: av.Packet, pts: int, end_pts: int, origin: int) -> None:
        """Mux one packet, rebased so the session's timestamps start at zero."""
        self.frames += 1
        self.keyframes += int(packet.is_keyframe)
        self.end_pts = max(self.end_pts, end_pts)
        packet.dts -= origin
        packet.pts = pts - origin
        packet.stream = self.stream
        self.container.mux(packet)

    def close(self) -> None:
        """Flush the muxer's last block into the file (the sink then seals the file)."""
        self.container.close()


class Segmenter(Generic[Item]):
    """Records one camera's stream into keyframe-aligned segments handed to a sink.

    `on_segment` gets what the sink's commit returned for each finished segment.
    """

    def __init__(
        self,
        camera_id: str,
        site: str,
        sink: SegmentSink[Item],
        on_segment: Callable[[Item], None],
        config: SegmenterConfig | None = None,
        clock: Callable[[], datetime] = utc_now_ms,
    ) -> None:
        for kind, value in (("camera", camera_id), ("site", site)):
            if not isinstance(value, str) or not _ID_RE.match(value):
                raise VideoError(f"{kind} id {value!r} cannot name a segment file or key")
        self.camera_id, self.site = camera_id, site
        self.sink = sink
        self.on_segment, self.clock = on_segment, clock
        self.config = config or SegmenterConfig()
        self.last_end_utc: datetime | None = None
        self.segments_in_session = 0

    def record(self, url: str, stop: threading.Event | None = None) -> None:
        """Record one session; return if `stop` is set, else raise a StreamError."""
        self.segments_in_session = 0
        try:
            container = open_input(url, self.config.input)
        except StreamOpenError as exc:
            exc.last_end_utc = self.last_end_utc
            raise
        try:
            _Session(self, container, url).run(stop or threading.Event())
        except StreamError as exc:
            exc.last_end_utc = self.last_end_utc
            raise
        finally:
            container.close()

    def commit(self, seg: _SegmentMuxer, clock: _Clock, codec: av.VideoStream) -> Item:
        """Close a segment, have the sink commit it with its measurements, and announce it."""
        try:
            seg.close()
        except BaseException:
            self.sink.abandon(seg.file)  # recovery probes what reached the disk
            raise
        start = clock.utc(seg.start_pts)
        duration = clock.offset_ms(seg.end_pts) - clock.offset_ms(seg.start_pts)
        item = self.sink.commit(
            seg.file, duration_ms=duration, frames=seg.frames, keyframes=seg.keyframes,
            codec=codec.codec_context.name, width=codec.width, height=codec.height)
        self.last_end_utc = start + timedelta(milliseconds=duration)
        self.segments_in_session += 1
        try:
            self.on_segment(item)
        except Exception:
            # The segment is committed; the spool scan will still find it.
            log.exception("on_segment callback failed for %s at %s", self.camera_id, start)
        return item

    def open_segment(self, start_utc: datetime, template: av.VideoStream, pts: int
                     ) -> _SegmentMuxer:
        """Begin a segment in the sink and put a muxer on it."""
        file = self.sink.begin(self.camera_id, self.site, start_utc, SEGMENT_EXT)
        try:
            return _SegmentMuxer(file, template, pts)
        except BaseException:
            self.sink.abandon(file)
            raise


class _Session:
    """One connection's packet loop: cutting, anchoring and closing segments."""

    def __init__(self, owner: Segmenter, container: av.container.InputContainer, url: str):
        self.owner, self.container, self.url = owner, container, url
        self.stream = _video_stream(container, url)
        self.time_base = Fraction(self.stream.time_base)
        self.target = round(owner.config.segment_seconds / self.time_base)
        self.max_jump = round(owner.config.max_timestamp_jump_s / self.time_base)
        self.clock: _Clock | None = None
        self.first_seen: tuple[datetime, int] | None = None  # (wall clock, pts) of anchor
        self.segment: _SegmentMuxer | None = None
        self.origin = 0
        self.last_dts: int | None = None
        self.frame_interval = 0

    def run(self, stop: threading.Event) -> None:
        """Demux until stop, EOF or error; always close the open segment."""
        try:
            for packet in self.container.demux(self.stream):
                if stop.is_set():
                    return
                self.handle(packet)
        except av.error.FFmpegError as exc:
            raise translate_read_error(exc, self.url) from exc
        except OSError as exc:  # spool disk full or gone: end the session, retry later
            raise StreamEnded(f"spool write failed: {exc}") from exc
        finally:
            self.close_segment_safely()
        raise StreamEnded(f"{redact(self.url)}: end of stream")

    def handle(self, packet: av.Packet) -> None:
        """Route one packet: skip, cut a new segment, or append."""
        if packet.dts is None or packet.size == 0:
            return  # demuxer flush packets and packets FFmpeg could not time
        self.check_continuity(packet.dts)
        pts = packet.pts if packet.pts is not None else packet.dts
        if self.clock is None and self.first_seen is None:
            self.first_seen = (self.owner.clock(), pts)  # receipt of the first packet
        if packet.is_keyframe and self.due(pts):
            self.close_segment()
            self.start_segment(pts, packet.dts)
        if self.segment is not None:
            self.segment.write(packet, pts, pts + self.packet_duration(packet), self.origin)

    def due(self, pts: int) -> bool:
        """Whether a keyframe at pts starts a new segment."""
        return self.segment is None or pts - self.segment.start_pts >= self.target

    def check_continuity(self, dts: int) -> None:
        """Close and re-anchor when timestamps jump backwards or leap forwards."""
        last, self.last_dts = self.last_dts, dts
        if last is None:
            return
        if dts > last:
            self.frame_interval = dts - last
        if dts < last or dts - last > self.max_jump:
            log.warning("timestamp discontinuity on %s (%d -> %d)", self.owner.camera_id,
                        last, dts)
            self.close_segment()
            self.clock = self.first_seen = None  # re-anchor from this packet on

    def packet_duration(self, packet: av.Packet) -> int:
        """Packet duration, estimated from the frame interval when the source omits it."""
        return packet.duration or self.frame_interval

    def start_segment(self, pts: int, dts: int) -> None:
        """Open a segment at a keyframe, anchoring the clock if needed."""
        if self.clock is None:
            # New anchor after connect or discontinuity: output timestamps restart at 0.
            wall, first_pts = self.first_seen
            self.clock, self.first_seen = _Clock(wall, first_pts, self.time_base), None
            self.origin = dts
        else:
            now = self.owner.clock()
            if self.drifted(now, pts):
                self.clock = _Clock(now, pts, self.time_base)
        self.segment = self.owner.open_segment(self.clock.utc(pts), self.stream, pts)

    def drifted(self, now: datetime, pts: int) -> bool:
        """Whether stream time and wall clock disagree by more than the threshold."""
        limit = self.owner.config.drift_threshold_s
        if limit is None:
            return False
        drift = (now - self.clock.utc(pts)).total_seconds()
        if abs(drift) <= limit:
            return False
        log.warning("clock drift %.3f s on %s; re-anchoring", drift, self.owner.camera_id)
        return True

    def close_segment_safely(self) -> None:
        """Commit the open segment on the way out without masking the session's end."""
        try:
            self.close_segment()
        except (OSError, av.error.FFmpegError):
            # The sink keeps the file for recovery (the spool's recover() at the next start).
            log.exception("could not commit the open segment of %s", self.owner.camera_id)

    def close_segment(self) -> None:
        """Commit the open segment, if any."""
        segment, self.segment = self.segment, None
        if segment is not None and self.clock is not None:
            self.owner.commit(segment, self.clock, self.stream)


def _video_stream(container: av.container.InputContainer, url: str) -> av.VideoStream:
    """Return the first video stream or fail as an invalid source."""
    if not container.streams.video:
        raise StreamOpenError("invalid", f"{redact(url)}: no video stream")
    return container.streams.video[0]


@dataclass(frozen=True)
class Backoff(retry.Backoff):
    """Reconnect delays: the shared capped exponential backoff, with ±20 % jitter."""

    jitter: float = 0.2


def run_camera(
    segmenter: Segmenter,
    url: str,
    stop: threading.Event,
    on_event: Callable[[StreamError], None] | None = None,
    backoff: Backoff | None = None,
    give_up_kinds: tuple[str, ...] = ("unauthorized", "forbidden"),
) -> None:
    """Record until stop, reconnecting with backoff; each StreamError goes to on_event."""
    delays = (backoff or Backoff()).delays()
    while not stop.is_set():
        try:
            segmenter.record(url, stop)
            return
        except StreamError as exc:
            _report(segmenter, exc, on_event)
            if isinstance(exc, StreamOpenError) and exc.kind in give_up_kinds:
                raise  # bad credentials do not heal by hammering the camera
        if segmenter.segments_in_session:
            delays = (backoff or Backoff()).delays()  # a session that worked resets backoff
        stop.wait(next(delays))


def _report(segmenter: Segmenter, exc: StreamError, on_event) -> None:
    """Log a session end and pass it on."""
    log.warning("camera %s: %s: %s", segmenter.camera_id, type(exc).__name__, exc)
    if on_event is not None:
        on_event(exc)
