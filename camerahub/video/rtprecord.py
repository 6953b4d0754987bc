"""Recording a camera read by our own RTSP client and the shared reading thread.

`record_rtp` is `Segmenter.record` for an rtsp:// camera with the "rtp" engine. In the
camera's thread it sets the session up (camerahub.video.rtsp: OPTIONS, DESCRIBE, SETUP,
PLAY, in the open timeout), then hands the connection to the reactor
(camerahub.video.reactor), whose few threads read every camera's connection. Each read
goes through the H.264 depacketizer (camerahub.video.rtp) into the segmenter's session
(`SegmentSession.handle`), exactly the checks, cuts, timing and muxing of the PyAV path; what
would block the reading thread, the sink's commit (fsyncs) and the announcement of each
segment, is handed back to the camera's thread, which otherwise only waits.

What the camera's thread keeps doing while the reactor reads:
- committing finished segments in order, and ending the session when the sink fails;
- at stop, reading what the kernel still holds of the stream (without waiting: the
  frames the camera sent before the stop that no read had taken yet);
- at stop, or when the reactor let the session go, committing the open segment, sending
  TEARDOWN and raising what ended it (the caller reconnects with backoff).

What the reactor does for the session a few times a second (`tick`): waking the camera's
thread when it is to stop (it does not poll), the read timeout (no
byte for `read_timeout_s`: StreamStalled), the stall guard (nothing recordable for the stall
timeout while bytes keep coming: StreamInvalid; nothing recordable for twice that:
StreamStalled), the RTSP keepalive at half the session timeout, and an RTCP receiver report
every RR_INTERVAL_S seconds.

Timing: a unit is handed over as soon as its last RTP packet is read (the marker bit), and
placed at the kernel's receive time of the read that completed it (`read_delay_ms`, the
time since then): a reader that pauses, or runs late because the machine is busy, does not
make the camera's footage look late (which the drift rule would take for lost time).
"""

from __future__ import annotations

import io
import logging
import queue
import secrets
import socket
import ssl
import threading
import time
from collections.abc import Callable
from fractions import Fraction
from typing import TYPE_CHECKING

import av

from camerahub.redact import redact
from camerahub.video.errors import (
    SinkFailed,
    StreamEnded,
    StreamError,
    StreamInvalid,
    StreamOpenError,
    StreamStalled,
)
from camerahub.video.guard import NOISE_BYTES, SessionGuard
from camerahub.video.reactor import READ_SIZE, RECV_BUFFER, reactor_for, receive
from camerahub.video.rtp import H264Depacketizer
from camerahub.video.rtsp import RtspConnection, Track

if TYPE_CHECKING:
    from camerahub.video.segmenter import Segmenter, SegmentSession

log = logging.getLogger(__name__)

RR_INTERVAL_S = 5.0
# The reactor's tick wakes a camera's thread when `stop` is set; the thread's own look at it
# is only a safety net (hundreds of threads waking every second would cost the readers).
_JOB_WAIT_S = 10.0
# At a stop, reads of what the kernel holds: enough for a full receive buffer, and a bound
# for a camera that keeps sending as fast as it is read.
DRAIN_READS = 2 * RECV_BUFFER // READ_SIZE
_warned_codecs: set[tuple[str, str]] = set()


def record_rtp(segmenter: Segmenter, url: str, stop: threading.Event) -> bool:
    """Record one session of an rtsp:// camera; False when it is not H.264 (the caller
    records it with PyAV instead). Returns at stop, else raises a StreamError."""
    from camerahub.video.segmenter import SegmentSession  # noqa: PLC0415 - segmenter imports us

    config = segmenter.config
    guard = SessionGuard(config.input.read_timeout_s)
    opened_at = segmenter.clock()
    try:
        conn = RtspConnection(url, config.input.open_timeout_s, config.input.ca_file)
        track = conn.play()
    except StreamOpenError as exc:
        exc.last_end_utc = segmenter.last_end_utc
        raise
    if track.codec != "h264":
        conn.teardown()
        if (segmenter.camera_id, track.codec) not in _warned_codecs:
            _warned_codecs.add((segmenter.camera_id, track.codec))
            log.info("camera %s sends %s, not H.264: recorded through PyAV",
                     segmenter.camera_id, track.codec)
        return False

    def make_session(stream: av.VideoStream, time_base: Fraction,
                     defer: Callable[[Callable[[], object]], None]) -> SegmentSession:
        return SegmentSession(segmenter, stream, url, guard, True, opened_at, time_base=time_base,
                        holds_frames=False, defer=defer)

    feed = RtpFeed(conn, track, make_session, guard, config.input.read_timeout_s,
                   redact(url))
    guard.progress()
    reactor = reactor_for(segmenter.camera_id)
    reactor.add(feed)
    try:
        feed.serve(stop)
    finally:
        reactor.remove(feed)
        feed.close()
    error = feed.error
    if error is None:
        return True  # stopped
    if not isinstance(error, StreamError):
        raise error  # a fault of ours: the caller keeps the traceback
    raise segmenter.session_end(error, guard) from error


class RtpFeed:
    """One camera's session as the reactor reads it (camerahub.video.reactor.Feed)."""

    def __init__(self, conn: RtspConnection, track: Track,
                 make_session: Callable[..., SegmentSession],
                 guard: SessionGuard, read_timeout_s: float, name: str) -> None:
        self.conn, self.sock, self.name = conn, conn.sock, name
        self.make_session, self.guard = make_session, guard
        self.time_base = Fraction(1, track.clock_rate)
        self.depay = H264Depacketizer(self._unit, self._loss, track.payload_type,
                                      track.parameter_sets, self._message)
        self.session: SegmentSession | None = None
        self.template: av.container.InputContainer | None = None
        self.jobs: queue.SimpleQueue[Callable[[], object] | None] = queue.SimpleQueue()
        self.error: BaseException | None = None
        self.read_timeout_s = read_timeout_s
        now = time.monotonic()
        self.last_rx = now
        self.rx_bytes = 0
        self.progress_seen, self.rx_at_progress = guard.last_ok, 0
        self.keepalive_every = max(1.0, conn.session_timeout_s / 2)
        self.next_keepalive = now + self.keepalive_every
        self.next_report = now + RR_INTERVAL_S
        self.ssrc = secrets.randbits(32)
        self.unsent = b""  # of our requests, what the last send could not take
        self.stop: threading.Event | None = None  # the camera thread's, once it serves
        self.before_keyframe = 0
        self.rx = time.time()  # when the kernel received the latest bytes read
        if conn.buf:  # data read together with PLAY's answer
            early, conn.buf = conn.buf, b""
            self.received(early, None)

    # --- in the reactor's thread --------------------------------------------------------

    def received(self, data: bytes, rx: float | None) -> None:
        """Bytes of the connection, received by the kernel at rx: depacketize; units go to
        the session, placed at rx however late this thread reads them."""
        self.last_rx = time.monotonic()
        self.rx = time.time() if rx is None else rx
        self.rx_bytes += len(data)
        try:
            self.depay.feed(data)
        except OSError as exc:  # spool disk full or gone: end the session, retry later
            raise SinkFailed(f"spool write failed: {exc}", exc.errno) from exc
        except av.error.FFmpegError as exc:
            raise StreamEnded(f"{self.name}: muxing failed: {exc}") from exc

    def _unit(self, ts: int, data: bytes, key: bool, nals: list[bytes]) -> None:
        if self.session is None:
            if not key:
                self.before_keyframe += 1
                return
            self._start(data)
            if self.session is None:
                return
        packet = av.Packet(data)
        packet.pts = packet.dts = ts
        packet.time_base = self.time_base
        packet.is_keyframe = key
        # how long ago the kernel had it: the timeline places the unit at its receipt
        self.session.read_delay_ms = max(0, round((time.time() - self.rx) * 1000))
        self.session.handle(packet, nals)

    def _start(self, keyframe: bytes) -> None:
        """The session's codec parameters, from its first keyframe (SPS and PPS in it)."""
        try:
            template = av.open(io.BytesIO(keyframe), format="h264")
            stream = template.streams.video[0]
        except (av.error.FFmpegError, IndexError):
            self.before_keyframe += 1
            return
        if not stream.codec_context.width:
            template.close()
            self.before_keyframe += 1
            return
        self.template = template
        # the feed's own queue: the session may start in __init__, from data read with PLAY
        self.session = self.make_session(stream, self.time_base, self.jobs.put)

    def _message(self, head: bytes) -> None:
        """An RTSP answer among the data: a keepalive refused for a stale nonce is sent
        again at once with the camera's new challenge."""
        if self.conn.answered(head):
            self.next_keepalive = 0.0

    def _loss(self, why: str) -> None:
        if self.session is not None:
            self.session.lost(why)

    def tick(self, now: float) -> None:
        """Timeouts, the stall guard, keepalives and receiver reports; and the camera
        thread's wake-up when it is to stop."""
        stop = self.stop
        if stop is not None and stop.is_set():
            self.jobs.put(None)
        quiet = now - self.last_rx
        if quiet > self.read_timeout_s:
            raise StreamStalled(f"{self.name}: no data within read timeout ({quiet:.1f} s)")
        guard = self.guard
        if guard.last_ok != self.progress_seen:
            self.progress_seen, self.rx_at_progress = guard.last_ok, self.rx_bytes
        idle = guard.idle_s()
        if idle > guard.limit_s:
            why = "no keyframe" if self.session is None else \
                (self.session.refusal or "no keyframe")
            if self.rx_bytes - self.rx_at_progress >= NOISE_BYTES:
                raise StreamInvalid(f"{self.name}: no recordable video for {idle:.1f} s while "
                                    f"the connection kept receiving data ({why})")
            if idle > 2 * guard.limit_s:
                raise StreamStalled(f"{self.name}: no recordable video for {idle:.1f} s")
        out = b""
        if now >= self.next_keepalive:
            self.next_keepalive = now + self.keepalive_every
            out += self.conn.keepalive()
        if now >= self.next_report:
            self.next_report = now + RR_INTERVAL_S
            out += self.depay.receiver_report(self.ssrc)
        # A few hundred bytes: a full send buffer skips this tick's requests. The rest of
        # a message half sent goes out before anything else, and over TLS a write that
        # could not finish is offered again with the same bytes (OpenSSL's rule).
        owed = bool(self.unsent)
        if owed:
            out = self.unsent
        if out:
            try:
                self.unsent = out[self.sock.send(out):]
            except (BlockingIOError, InterruptedError, ssl.SSLWantWriteError,
                    ssl.SSLWantReadError):
                self.unsent = out if owed or isinstance(self.sock, ssl.SSLSocket) else b""

    def ended(self, exc: BaseException | None) -> None:
        """The reactor let the session go; wake the camera's thread."""
        if exc is not None:
            self.error = _as_stream_error(exc, self.name)
        self.jobs.put(None)

    # --- in the camera's thread ---------------------------------------------------------

    def serve(self, stop: threading.Event) -> None:
        """Run the deferred commits until the reactor ends the session or stop is set."""
        self.stop = stop
        while not stop.is_set():
            try:
                job = self.jobs.get(timeout=_JOB_WAIT_S)
            except queue.Empty:
                continue
            if job is None:
                return
            if not self._run(job):
                return

    def _run(self, job: Callable[[], object]) -> bool:
        try:
            job()
        except OSError as exc:
            if self.error is None:
                self.error = SinkFailed(f"spool write failed: {exc}", exc.errno)
            return False
        return True

    def close(self) -> None:
        """After the reactor let go: at a stop, what the kernel still holds of the stream;
        the queued commits, the open segment, TEARDOWN."""
        if self.error is None and self.stop is not None and self.stop.is_set():
            self._drain()
        while True:
            try:
                job = self.jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                self._run(job)
        if self.session is not None:
            try:
                self.session.finish()
            except StreamError as exc:  # a last segment with impossible timing
                self.error = self.error or exc
        if self.before_keyframe and self.session is None:
            log.info("%s: %d access units before the first keyframe", self.name,
                     self.before_keyframe)
        self.conn.teardown()
        if self.template is not None:
            self.template.close()

    def _drain(self) -> None:
        """The bytes the camera sent before the stop that no read took yet (up to a
        reader's pause, longer on a busy machine) are footage too: read what the kernel
        holds, without waiting, into the open segment before it is committed."""
        for _ in range(DRAIN_READS):
            try:
                data, rx = receive(self.sock, READ_SIZE, socket.MSG_DONTWAIT)
            except OSError:  # nothing left (EAGAIN), or the connection is gone
                return
            if not data:
                return
            try:
                self.received(data, rx)
            except Exception as exc:  # noqa: BLE001 - the stop goes on; the rest is lost
                log.warning("%s: what was left to read at the stop is not recorded: %s",
                            self.name, exc)
                return


def _as_stream_error(exc: BaseException, name: str) -> BaseException:
    """What ended a session, as the segmenter's callers know it; anything else (a fault of
    ours) is kept as it is."""
    if isinstance(exc, (EOFError, OSError)) and not isinstance(exc, StreamError):
        return StreamEnded(f"{name}: {exc}")
    return exc
