"""Stream-copy segmenter: camera packets are remuxed, never decoded, into spool segments.

Container: MPEG-TS. Why not fragmented MP4:
- A kill -9 mid-segment leaves a TS file whose every complete 188-byte packet is valid:
  no header to patch, no index at the end, so `salvage_segment` can find the longest
  prefix of whole packets and complete frames that decodes, and the spool finalizes that
  and quarantines the rest. A fragmented MP4 also survives but loses the whole unfinished
  fragment (a GOP or more) and needs box-level repair to be trimmed.
- Power loss is different: segments are fsynced when closed, so the open one can lose
  what the OS had not yet written; recovery treats it like any truncated file.
- Each TS segment is self-contained (PAT/PMT at its start, SPS/PPS repeated by FFmpeg's
  muxer on every keyframe), so it plays alone, is a valid HLS media segment as is (no
  separate init segment to store and keep consistent), and `remux_to_mp4` stream-copies
  a run of them into one MP4 for clip.mp4.
- Cost: 2-4 % container overhead, accepted for robustness.

Only the first video stream is recorded; audio tracks are not copied.

Timing (camerahub.video.timing): a live session (RTSP) anchors segments to the recorder's
wall clock at receipt of their first packet, estimated from every packet read (packets read
after a buffered burst arrived earlier than they are read), and consecutive segments abut
exactly by stream time (start + duration_ms == next start). The anchor is renewed after a
reconnect (new session) or a timestamp discontinuity, and moves on real drift only. A
segment that claims more stream time than the wall-clock time in which it arrived is
refused (quarantined) and ends the session as StreamInvalid. Files and other sources read
faster than real time anchor to the wall clock when their first packet is read.

Only footage that is real is kept: every packet's NAL units and slice headers are checked
(no decoding) and the keyframe that starts a segment must decode on its own. A packet of
noise closes the open segment (what came before is kept, but for the one packet just
before it, which is written only once the next has passed the checks: noise that passes
them by chance comes right before noise that does not) and nothing is written until a
keyframe decodes again; a session with nothing recordable for the stall timeout ends as
StreamInvalid, also when the camera sends bytes that never make a packet
(camerahub.video.guard cuts it).

Files are not the segmenter's business: it writes the muxer's bytes into a SegmentSink
(camerahub.video.sink) and reports what it measured; the sink names, hashes, fsyncs and
commits them (camerahub.storage.SpoolSink for the spool).

Reconnects are the caller's choice: `Segmenter.record` runs one session and always ends
with a StreamError (or returns when `stop` is set); `run_camera` is a ready-made loop with
capped exponential backoff that reports every gap to a callback.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from typing import Generic, TypeVar

import av

from camerahub import retry
from camerahub.video.bitstream import InvalidSlice, KeyframeCheck, NalCheck, SliceCheck
from camerahub.video.errors import (
    ImplausibleTiming,
    SinkFailed,
    StreamEnded,
    StreamError,
    StreamInvalid,
    StreamOpenError,
    StreamStalled,
    VideoError,
)
from camerahub.video.guard import (
    INVALID,
    WATCHDOG,
    SessionGuard,
    connection_sockets,
    socket_inodes,
)
from camerahub.video.sink import SegmentFile, SegmentSink
from camerahub.video.source import InputOptions, open_input, redact, translate_read_error
from camerahub.video.timing import FileTimeline, Placement, ReceiptTimeline

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
    # Stream time advancing more than this between two frames means frames are missing (the
    # camera paused or skipped them): the frames up to the next keyframe refer to frames
    # never received and cannot decode, so the segment ends and the next starts there.
    max_frame_gap_s: float = 1.0
    # Whether the input arrives in real time (a camera), so that segment times are its
    # receipt; None decides by the URL: rtsp:// and rtsps:// do, files and HTTP do not.
    realtime: bool | None = None
    input: InputOptions = field(default_factory=InputOptions)
    # How an rtsp:// camera is read: "rtp" (camerahub.video.rtprecord: our RTSP client, one
    # reading thread for every camera) or "pyav" (FFmpeg's RTSP client in the camera's
    # thread). Cameras that do not send H.264, and RTP over UDP, are read by PyAV (rtsps://
    # through camerahub.video.tls.Tunnel).
    engine: str = "rtp"


def utc_now_ms() -> datetime:
    """Return the wall clock in UTC, floored to the millisecond."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def is_live(url: str) -> bool:
    """Whether a URL names a camera stream (RTSP), which arrives in real time."""
    return url.startswith(("rtsp://", "rtsps://"))


class _SegmentMuxer:
    """One segment being muxed into a sink's file, counting what goes in."""

    def __init__(self, file: SegmentFile, template: av.VideoStream, start_pts: int) -> None:
        self.file, self.start_pts, self.end_pts = file, start_pts, start_pts
        self.last_pts = start_pts  # of the last packet written (decode order)
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
        self.last_pts = pts
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
        stop = stop or threading.Event()
        if (self.config.engine == "rtp" and url.startswith(("rtsp://", "rtsps://"))
                and self.config.input.rtsp_transport == "tcp"):
            from camerahub.video.rtprecord import record_rtp  # noqa: PLC0415 - it imports us

            if record_rtp(self, url, stop):
                return
        self._record_pyav(url, stop)

    def _record_pyav(self, url: str, stop: threading.Event) -> None:
        """Record one session read by PyAV (FFmpeg's demuxers) in this thread."""
        live = self.config.realtime if self.config.realtime is not None else is_live(url)
        guard = SessionGuard(self.config.input.read_timeout_s)
        before = socket_inodes() if is_live(url) else None
        opened_at = self.clock() if live else None  # nothing arrives before we connect
        try:
            container = open_input(url, self.config.input)
        except StreamOpenError as exc:
            exc.last_end_utc = self.last_end_utc
            raise
        self._guard(guard, url, before)
        try:
            stream = _video_stream(container, url)
            SegmentSession(self, stream, url, guard, live, opened_at).run(container, stop)
        except StreamError as exc:
            raise self.session_end(exc, guard) from exc
        finally:
            WATCHDOG.forget(guard)
            container.close()
            guard.close()

    def _guard(self, guard: SessionGuard, url: str, before: set[int] | None) -> None:
        """Let the watchdog cut this session's connection if it carries only noise."""
        guard.progress()  # the session starts now
        if before is None:
            return
        guard.attach(connection_sockets(url, before))
        if guard.attached:
            WATCHDOG.watch(guard)
        else:
            log.info("camera %s: connection not found; a stream of noise is caught only "
                     "when FFmpeg hands over packets", self.camera_id)

    def session_end(self, exc: StreamError, guard: SessionGuard) -> StreamError:
        """The error that ends the session, saying so when the watchdog cut it."""
        if guard.fired == INVALID and not isinstance(exc, StreamInvalid):
            exc = StreamInvalid(f"no recordable video for {guard.limit_s:g} s while the "
                                f"connection kept receiving data ({exc})")
        elif guard.fired and not isinstance(exc, StreamInvalid):
            exc = StreamStalled(f"no data for {2 * guard.limit_s:g} s ({exc})")
        exc.last_end_utc = self.last_end_utc
        return exc

    def commit(self, seg: _SegmentMuxer, placement: Placement, codec: av.VideoStream,
               defer: Callable[[Callable[[], object]], None] | None = None) -> None:
        """Close a segment, have the sink commit it where it was placed, and announce it.

        With `defer`, the muxer is closed now and the sink's commit (fsyncs) and the
        announcement are handed to `defer` to run later, in order, in another thread.
        """
        self._close_muxer(seg)
        publish = functools.partial(self._publish, seg, placement, codec.codec_context.name,
                                    codec.width, codec.height)
        if defer is None:
            publish()
            return
        self.last_end_utc = placement.end
        defer(publish)

    def _publish(self, seg: _SegmentMuxer, placement: Placement, codec: str, width: int,
                 height: int) -> Item:
        """The sink's commit of a closed segment, then on_segment."""
        item = self.sink.commit(
            seg.file, start_utc=placement.start, duration_ms=placement.duration_ms,
            frames=seg.frames, keyframes=seg.keyframes, codec=codec, width=width,
            height=height)
        self.last_end_utc = max(self.last_end_utc or placement.end, placement.end)
        self.segments_in_session += 1
        try:
            self.on_segment(item)
        except Exception:
            # The segment is committed; the spool scan will still find it.
            log.exception("on_segment callback failed for %s at %s", self.camera_id,
                          placement.start)
        return item

    def reject(self, seg: _SegmentMuxer, reason: str) -> None:
        """Close a segment that is not evidence and have the sink quarantine it."""
        self._close_muxer(seg)
        self.sink.reject(seg.file, reason)

    def discard(self, seg: _SegmentMuxer) -> None:
        """Close a segment that holds no frame and have the sink delete it."""
        self._close_muxer(seg)
        self.sink.discard(seg.file)

    def _close_muxer(self, seg: _SegmentMuxer) -> None:
        """Flush the muxer into the file; on failure leave the file for recovery."""
        try:
            seg.close()
        except BaseException:
            self.sink.abandon(seg.file)  # recovery probes what reached the disk
            raise

    def open_segment(self, start_utc: datetime, template: av.VideoStream, pts: int
                     ) -> _SegmentMuxer:
        """Begin a segment in the sink and put a muxer on it."""
        file = self.sink.begin(self.camera_id, self.site, start_utc, SEGMENT_EXT)
        try:
            return _SegmentMuxer(file, template, pts)
        except BaseException:
            self.sink.abandon(file)
            raise


class SegmentSession:
    """One connection's packets: checking, cutting, placing and closing segments.

    `run` pulls them from a PyAV container; a reading thread pushes them to `handle` instead
    (camerahub.video.rtprecord), with their own time base, taking over the commits (`defer`)
    and telling of losses the depacketizer saw (`lost`). `holds_frames`: the demuxer hands
    each frame over only when the next begins (FFmpeg's parser), not at its end.
    """

    def __init__(self, owner: Segmenter, stream: av.VideoStream, url: str,
                 guard: SessionGuard, live: bool, opened_at: datetime | None, *,
                 time_base: Fraction | None = None, holds_frames: bool = True,
                 defer: Callable[[Callable[[], object]], None] | None = None):
        self.owner, self.url, self.guard = owner, url, guard
        self.stream = stream
        self.time_base = time_base = time_base or Fraction(stream.time_base)
        self.holds_frames, self.defer = holds_frames, defer
        self.read_delay_ms = 0  # a pushing reader's: how long before handle() it had it
        config = owner.config
        self.target = round(config.segment_seconds / time_base)
        self.max_jump = round(config.max_timestamp_jump_s / time_base)
        self.max_frame_gap = round(config.max_frame_gap_s / time_base)
        timeline = ReceiptTimeline if live else FileTimeline
        self.timeline = timeline(time_base, owner.clock, config.drift_threshold_s)
        self.timeline.begin(opened_at, owner.last_end_utc)
        self.nal_check = NalCheck(self.stream.codec_context.name,
                                  self.stream.codec_context.extradata)
        self.slices = SliceCheck(self.stream.codec_context.name,
                                 self.stream.codec_context.extradata)
        self.keyframe_decodes = KeyframeCheck(self.stream)
        self.segment: _SegmentMuxer | None = None
        self.held: tuple[av.Packet, int, int] | None = None  # checked, written with the next
        self.origin, self.rebase = 0, True  # output timestamps restart at 0 per anchor
        self.last_dts: int | None = None
        # A frame's duration is not in the stream (RTP carries none): it is taken to be the
        # interval before it, learned only between two frames written one after the other.
        # An interval across a refusal, a loss, missing frames or a wait for a keyframe is
        # a hole, not a frame: taken for one, the frame after it would claim stream time
        # that had not yet passed (up to the jump limit) when its session ends.
        self.written_dts: int | None = None  # of the last frame written, if none lost since
        self.frame_interval = 0
        self.refused, self.refusal = 0, ""

    def run(self, container: av.container.InputContainer, stop: threading.Event) -> None:
        """Demux until stop, EOF or error; always close the open segment."""
        try:
            for packet in container.demux(self.stream):
                if stop.is_set():
                    return
                self.handle(packet)
        except av.error.FFmpegError as exc:
            raise translate_read_error(exc, self.url) from exc
        except OSError as exc:  # spool disk full or gone: end the session, retry later
            raise SinkFailed(f"spool write failed: {exc}", exc.errno) from exc
        finally:
            self.finish()
        raise StreamEnded(f"{redact(self.url)}: end of stream")

    def finish(self) -> None:
        """The session ends: commit the open segment now and say what was refused."""
        self.defer = None
        self.close_segment_safely()
        if self.refused:
            log.warning("camera %s: %d packets refused in this session (last: %s)",
                        self.owner.camera_id, self.refused, self.refusal)

    def lost(self, why: str) -> None:
        """The reader lost part of the stream: end the segment at its last whole frame."""
        self.written_dts = None
        if self.segment is not None:
            log.warning("camera %s: %s; resuming at a keyframe", self.owner.camera_id, why)
            self.close_segment()

    def handle(self, packet: av.Packet, nals: list[bytes] | None = None) -> None:
        """Route one packet: refuse, skip, cut a new segment, or append.

        `nals`: its NAL units' first bytes where the reader already knows them (RTP), so
        the checks need not scan the packet for start codes.
        """
        if packet.dts is None or packet.size == 0:
            return  # demuxer flush packets and packets FFmpeg could not time
        if nals is None:
            data = bytes(packet)
            fault = self.nal_check(data)
        else:
            fault = self.nal_check.judge([nal[:2] for nal in nals]) if nals else "no NAL unit"
        if fault is not None:
            self.refuse(f"invalid packet: {fault}")
            return
        try:
            missing = self.slices(data) if nals is None else self.slices.units(nals)
        except InvalidSlice as exc:
            self.refuse(f"invalid packet: {exc}")
            return
        if missing is not None and self.segment is not None:
            # Frames were lost for less than the frame-gap limit (a short stall, a lost
            # burst): what follows until a keyframe cannot decode. As for a longer gap, the
            # segment ends at its last whole frame and recording resumes at a keyframe. The
            # packet held back is dropped: a camera turning to noise shows it this way too,
            # and a packet that is not a clean continuation does not vouch for the one
            # before it (a real loss costs one frame at a break the stream already has).
            log.warning("camera %s: %s; resuming at a keyframe", self.owner.camera_id,
                        missing)
            self.held = None
            self.written_dts = None
            self.close_segment()
        self.check_continuity(packet.dts)
        self.learn_interval(packet.dts)
        pts = packet.pts if packet.pts is not None else packet.dts
        held = self.held_ms(packet)
        if packet.is_keyframe and self.due(pts):
            if not self.keyframe_decodes(packet):
                self.refuse("keyframe does not decode")
                return
            self.close_segment()
            self.start_segment(pts, packet.dts, held)
        else:
            self.timeline.packet(pts, held)
        if self.segment is None:
            self.written_dts = None
            self.check_progress()
            return
        # Written one packet late: a camera that turns to noise mid-segment can send a unit
        # of noise that passes the checks by chance (about 1 in 100) before one that does
        # not; held back, it is dropped with the refusal instead of ending the segment.
        self.write_held()
        self.held = (packet, pts, pts + self.packet_duration(packet))
        self.written_dts = packet.dts

    def write_held(self) -> None:
        """Write the packet held back, now that no refusal followed it."""
        held, self.held = self.held, None
        if held is not None and self.segment is not None:
            packet, pts, end_pts = held
            self.segment.write(packet, pts, end_pts, self.origin)
            self.guard.progress()

    def refuse(self, reason: str) -> None:
        """A packet that is not footage: keep what came before, wait for a good keyframe.

        The packet held back just before it is dropped too: it may be noise that passed.
        """
        self.refused += 1
        self.refusal = reason
        self.held = None
        self.written_dts = None
        if self.segment is not None or self.refused == 1:
            log.warning("camera %s: %s; recording resumes at a keyframe that decodes",
                        self.owner.camera_id, reason)
        self.close_segment()  # the frames after a broken one cannot decode either
        self.check_progress()

    def check_progress(self) -> None:
        """End the session when nothing recordable came for the stall timeout."""
        idle = self.guard.idle_s()
        if idle > self.guard.limit_s:
            why = self.refusal or "no keyframe"
            raise StreamInvalid(f"{redact(self.url)}: no recordable video for {idle:.1f} s "
                                f"({why})")

    def due(self, pts: int) -> bool:
        """Whether a keyframe at pts starts a new segment."""
        return self.segment is None or pts - self.segment.start_pts >= self.target

    def check_continuity(self, dts: int) -> None:
        """Close and re-anchor when timestamps jump backwards or leap forwards."""
        last, self.last_dts = self.last_dts, dts
        if last is None:
            return
        if dts < last or dts - last > self.max_jump:
            log.warning("timestamp discontinuity on %s (%d -> %d)", self.owner.camera_id,
                        last, dts)
            self.written_dts = None
            self.close_segment()
            self.timeline.restart(self.owner.last_end_utc)
            self.rebase = True
        elif dts - last > self.max_frame_gap and self.segment is not None:
            # Frames are missing: what follows until a keyframe cannot decode. The segment
            # ends at its last whole frame; the pause is a hole the recorder records as a gap.
            log.warning("camera %s: %.1f s of frames missing; resuming at a keyframe",
                        self.owner.camera_id, float((dts - last) * self.time_base))
            self.written_dts = None
            self.close_segment()
            self.guard.progress()  # the stream is back: the next keyframe is due from now

    def learn_interval(self, dts: int) -> None:
        """Take the interval since the frame written just before as the frame interval."""
        last = self.written_dts
        if last is not None and 0 < dts - last <= self.max_frame_gap:
            self.frame_interval = dts - last

    def packet_duration(self, packet: av.Packet) -> int:
        """Packet duration, estimated from the frame interval when the source omits it."""
        return packet.duration or self.frame_interval

    def held_ms(self, packet: av.Packet) -> int:
        """How long the demuxer held a packet before handing it over: FFmpeg's parser knows
        a frame has ended only when the next one begins, a frame interval later."""
        if not self.holds_frames:
            return self.read_delay_ms
        return round(self.packet_duration(packet) * self.time_base * 1000)

    def start_segment(self, pts: int, dts: int, held_ms: int) -> None:
        """Open a segment at a keyframe; a new anchor restarts output timestamps at 0."""
        if self.rebase:
            self.origin, self.rebase = dts, False
        start = self.timeline.open(pts, held_ms)
        self.segment = self.owner.open_segment(start, self.stream, pts)

    def close_segment_safely(self) -> None:
        """Commit the open segment on the way out without masking the session's end."""
        try:
            self.close_segment()
        except (OSError, av.error.FFmpegError):
            # The sink keeps the file for recovery (the spool's recover() at the next start).
            log.exception("could not commit the open segment of %s", self.owner.camera_id)

    def close_segment(self) -> None:
        """Place and commit the open segment, if any; refuse it if its timing is impossible."""
        self.write_held()
        segment, self.segment = self.segment, None
        if segment is None:
            return
        if not segment.frames:
            # its keyframe, held back, went with the refusal after it: nothing to keep
            self.timeline.drop()
            self.owner.discard(segment)
            return
        try:
            placement = self.timeline.close(segment.start_pts, segment.last_pts,
                                            segment.end_pts)
        except ImplausibleTiming as exc:
            self.owner.reject(segment, str(exc))
            raise StreamInvalid(f"{redact(self.url)}: {exc}") from exc
        self.owner.commit(segment, placement, self.stream, self.defer)


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
    give_up_kinds: tuple[str, ...] = ("unauthorized", "forbidden", "untrusted"),
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
                raise  # bad credentials or certificates do not heal by hammering the camera
        if segmenter.segments_in_session:
            delays = (backoff or Backoff()).delays()  # a session that worked resets backoff
        stop.wait(next(delays))


def _report(segmenter: Segmenter, exc: StreamError, on_event) -> None:
    """Log a session end and pass it on."""
    log.warning("camera %s: %s: %s", segmenter.camera_id, type(exc).__name__, exc)
    if on_event is not None:
        on_event(exc)
