"""The recorder's own RTSP client and RTP reader, against the simulator and hostile servers.

The simulator (127.W.45.x, this module's own range) supplies real sessions: its bytes are
depacketized in chunks of every size, recorded while it loses RTP packets, and kept playing
past a session timeout only our keepalives satisfy. Hostile RTSP servers are plain sockets
on 127.0.0.1 answering what a broken or malicious camera would.
"""

from __future__ import annotations

import contextlib
import random
import socket
import struct
import threading
import time
from pathlib import Path

import av
import pytest

from camerahub.storage import SpoolItem, SpoolSink
from camerahub.video import (
    InputOptions,
    Segmenter,
    SegmenterConfig,
    StreamOpenError,
    probe_segment,
)
from camerahub.video.bitstream import nal_units
from camerahub.video.rtp import NAL_PREFIX, H264Depacketizer
from camerahub.video.rtprecord import record_rtp
from camerahub.video.rtsp import RtspConnection, parse_sdp
from tests.support.simulators import simulator_fixture

SUBNET = 45  # 127.W.45.x / 127.W.46.x: this module's own cameras
LIVE = InputOptions(open_timeout_s=10, read_timeout_s=3)
sim = simulator_fixture(SUBNET, cameras=1, hq=1, control_port=None, main_size="640x360")


def camera_id(sim) -> str:
    return sim.cameras[0].camera_id


def read_session(url: str, seconds: float) -> tuple[bytes, object]:
    """The raw interleaved bytes of `seconds` of a session, and its track."""
    conn = RtspConnection(url, 10)
    track = conn.play()
    data = bytearray(conn.buf)
    conn.sock.settimeout(5)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        data += conn.sock.recv(65536)
    conn.teardown()
    return bytes(data), track


def depacketize(data: bytes, track, sizes) -> tuple[list, list[str]]:
    units, losses = [], []
    depay = H264Depacketizer(lambda ts, au, key, nals: units.append((ts, au, key)), losses.append,
                             track.payload_type, track.parameter_sets)
    pos = 0
    for size in sizes:
        depay.feed(data[pos:pos + size])
        pos += size
        if pos >= len(data):
            break
    depay.feed(data[pos:])
    return units, losses


def test_units_do_not_depend_on_how_the_bytes_were_read(sim):
    data, track = read_session(sim.rtsp_url(camera_id(sim)), 3)
    whole, losses = depacketize(data, track, [len(data)])
    assert not losses and len(whole) >= 30
    rng = random.Random(7)
    for sizes in ([1] * 5000 + [len(data)], [rng.randint(1, 3000) for _ in range(len(data))]):
        assert depacketize(data, track, sizes) == (whole, [])
    # the NAL units handed beside each unit are the unit's own, as a scan would find them
    units, _ = [], None
    depay = H264Depacketizer(lambda ts, au, key, nals: units.append((au, nals)),
                             lambda why: None, track.payload_type, track.parameter_sets)
    depay.feed(data)
    for au, nals in units:
        scanned = [n[:-1] if len(n) < NAL_PREFIX and n.endswith(b"\0") else n
                   for n in nal_units(au, 0, NAL_PREFIX)]
        assert nals == scanned
    # what the units make is a stream PyAV decodes to its last picture
    keyed = [au for _, au, key in whole]
    first = next(i for i, (_, _, key) in enumerate(whole) if key)
    stream = b"".join(keyed[first:])
    with av.open(__import__("io").BytesIO(stream), format="h264") as container:
        assert sum(1 for _ in container.decode(video=0)) == len(keyed) - first


def frames_of(data: bytes) -> list[bytes]:
    """The interleaved frames of a session's bytes (`$`, channel, length, payload)."""
    frames, pos = [], 0
    while pos + 4 <= len(data):
        end = pos + 4 + struct.unpack_from("!H", data, pos + 2)[0]
        frames.append(data[pos:end])
        pos = end
    return frames


def test_rtsp_answers_and_noise_among_the_data_are_skipped(sim):
    data, track = read_session(sim.rtsp_url(camera_id(sim)), 2)
    clean, _ = depacketize(data, track, [len(data)])
    frames = frames_of(data)
    cut = sum(len(f) for f in frames[:len(frames) // 2])  # a frame boundary
    answer = b"RTSP/1.0 200 OK\r\nCSeq: 9\r\nContent-Length: 5\r\n\r\nhello"
    # an answer at a frame boundary is skipped whole, split across reads or not
    mixed = data[:cut] + answer + data[cut:]
    for sizes in ([len(mixed)], [cut + 10, 7, len(mixed)]):
        assert depacketize(mixed, track, sizes) == (clean, [])
    # bytes of nothing at a boundary: skipped to the next frame, the stream goes on
    noisy, losses = depacketize(data[:cut] + b"\x17garbage" + data[cut:], track, [len(data)])
    assert len(noisy) == len(clean) and not losses


def test_a_foreign_ssrc_is_ignored_and_a_gap_is_a_loss(sim):
    data, track = read_session(sim.rtsp_url(camera_id(sim)), 2)
    frames = frames_of(data)
    rtp = [i for i, f in enumerate(frames) if f[1] == 0]
    # a copy of one RTP packet under another SSRC: ignored
    spoof = bytearray(frames[rtp[5]])
    spoof[12:16] = b"\xde\xad\xbe\xef"
    with_spoof = b"".join(frames[:rtp[5] + 1]) + bytes(spoof) + b"".join(frames[rtp[5] + 1:])
    assert depacketize(with_spoof, track, [len(with_spoof)])[1] == []
    # one RTP packet left out: a loss, the unit it belonged to never reaches the segmenter
    missing = b"".join(f for i, f in enumerate(frames) if i != rtp[len(rtp) // 2])
    units, losses = depacketize(missing, track, [len(missing)])
    clean, _ = depacketize(data, track, [len(data)])
    assert losses == ["1 RTP packets lost"]
    assert len(units) == len(clean) - 1


def test_receiver_report_describes_what_was_received(sim):
    data, track = read_session(sim.rtsp_url(camera_id(sim)), 2)
    depay = H264Depacketizer(lambda *a: None, lambda why: None, track.payload_type)
    depay.feed(data)
    report = depay.receiver_report(0x1234)
    assert report[:2] == b"$\x01" and struct.unpack_from("!H", report, 2)[0] == len(report) - 4
    header, pt, words, ours, theirs = struct.unpack_from("!BBHII", report, 4)
    assert (header, pt, words, ours, theirs) == (0x81, 201, 7, 0x1234, depay.ssrc)
    assert struct.unpack_from("!I", report, 16)[0] & 0xFFFFFF == 0  # nothing lost
    assert struct.unpack_from("!I", report, 20)[0] & 0xFFFF == depay.seq


def record(sim, tmp_path, seconds: float, count: int, **config) -> list[SpoolItem]:
    stop = threading.Event()
    infos: list[SpoolItem] = []

    def on_segment(info: SpoolItem) -> None:
        infos.append(info)
        if len(infos) >= count:
            stop.set()

    cfg = SegmenterConfig(segment_seconds=seconds, input=LIVE, **config)
    segmenter = Segmenter(camera_id(sim), "hq", SpoolSink(tmp_path), on_segment, cfg)
    segmenter.record(sim.rtsp_url(camera_id(sim)), stop)
    return infos


def test_lost_packets_end_segments_at_their_last_whole_frame(sim, tmp_path):
    sim.set_faults(camera_id(sim), lose_packets=250)
    try:
        infos = record(sim, tmp_path, 2, 6)
    finally:
        sim.clear_faults(camera_id(sim))
    assert len(infos) >= 6
    for info in infos:
        check = probe_segment(info.path)
        assert check.playable and check.frames == info.frames, (info, check)
        decoder = av.CodecContext.create("h264", "r")
        decoder.options = {"err_detect": "explode"}
        with av.open(str(info.path)) as container:
            decoded = 0
            for packet in container.demux(video=0):
                if packet.size:
                    decoded += len(decoder.decode(packet))
            decoded += len(decoder.decode(None))
        assert decoded == info.frames
    for previous, current in zip(infos, infos[1:], strict=False):
        assert current.start_utc >= previous.end_utc
    # some segment ended early: frames were lost and nothing after them was kept
    assert any(info.frames < 30 for info in infos)


def test_keepalives_hold_a_session_past_the_cameras_timeout(sim, tmp_path):
    sim.set_faults(camera_id(sim), session_timeout=3)
    try:
        infos = record(sim, tmp_path, 2, 4)  # 8 s in one session: past two timeouts
    finally:
        sim.clear_faults(camera_id(sim))
    assert len(infos) >= 4
    for previous, current in zip(infos, infos[1:], strict=False):
        assert current.start_utc == previous.end_utc


# --- hostile servers ------------------------------------------------------------------------

@contextlib.contextmanager
def rtsp_server(answer):
    """A server on 127.0.0.1 that calls answer(request_text) -> bytes|None per request."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)
    done = threading.Event()

    def serve():
        with contextlib.suppress(OSError):
            conn, _ = listener.accept()
            with conn:
                buf = b""
                while not done.is_set():
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    buf += chunk
                    while b"\r\n\r\n" in buf:
                        head, buf = buf.split(b"\r\n\r\n", 1)
                        reply = answer(head.decode())
                        if reply is None:
                            done.wait(30)
                            return
                        conn.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"rtsp://admin:s3cret-pw@127.0.0.1:{listener.getsockname()[1]}/main"
    finally:
        done.set()
        listener.close()
        thread.join(5)


def reply(status: str, cseq_from: str, headers: str = "", body: bytes = b"") -> bytes:
    cseq = next((line.split(":", 1)[1].strip() for line in cseq_from.split("\r\n")
                 if line.lower().startswith("cseq:")), "0")
    length = f"Content-Length: {len(body)}\r\n" if body else ""
    return f"RTSP/1.0 {status}\r\nCSeq: {cseq}\r\n{headers}{length}\r\n".encode() + body


SDP_H264 = (b"v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
            b"a=control:track1\r\n")


def staged(describe: bytes | None = None, setup_headers: str = "Session: 1234;timeout=60\r\n"
           "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n", status: dict | None = None):
    """An answer function: OK to everything, with the given SDP and SETUP headers."""
    def answer(request: str) -> bytes | None:
        method = request.split(" ", 1)[0]
        if status and method in status:
            return status[method](request) if callable(status[method]) else \
                reply(status[method], request)
        if method == "DESCRIBE":
            return reply("200 OK", request, "Content-Type: application/sdp\r\n",
                         describe if describe is not None else SDP_H264)
        if method == "SETUP":
            return reply("200 OK", request, setup_headers)
        return reply("200 OK", request, "Public: OPTIONS, DESCRIBE, SETUP, PLAY\r\n")
    return answer


@pytest.mark.parametrize(("answer", "kind"), [
    (staged(status={"DESCRIBE": "404 Not Found"}), "not_found"),
    (staged(status={"DESCRIBE": "403 Forbidden"}), "forbidden"),
    (staged(status={"DESCRIBE": lambda r: reply("401 Unauthorized", r,
                                                'WWW-Authenticate: Digest realm="x", '
                                                'nonce="n"\r\n')}), "unauthorized"),
    (staged(status={"DESCRIBE": "500 Internal Server Error"}), "unreachable"),
    (staged(status={"DESCRIBE": lambda r: b"HTTP/1.1 200 OK\r\n\r\n"}), "invalid"),
    (staged(status={"DESCRIBE": lambda r: b"RTSP/1.0 200 OK\r\nX: " + b"a" * 20000}),
     "invalid"),
    (staged(status={"DESCRIBE": lambda r: reply("200 OK", r, "Content-Length: 99999999\r\n")}),
     "invalid"),
    (staged(b"v=0\r\nm=audio 0 RTP/AVP 0\r\n"), "invalid"),
    (staged(b"v=0\r\nm=video 0 RTP/AVP 96\r\na=control:track 1\r\n"), "invalid"),
    (staged(b"v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
            b"a=control:rtsp://x/\r\nInjected: yes\r\n"), None),
    (staged(setup_headers="Session: 12\r\nX-Pad: 1\r\n"
            "Transport: RTP/AVP/TCP;interleaved=0-1\r\nSession: a b\r\n"), "invalid"),
    (staged(setup_headers="Transport: RTP/AVP/TCP;interleaved=0-1\r\n"), "invalid"),
    (staged(setup_headers="Session: 1\r\nTransport: RTP/AVP;unicast;client_port=5000-5001\r\n"),
     "invalid"),
    (staged(status={"DESCRIBE": lambda r: None}), "timeout"),
    (staged(status={"SETUP": lambda r: b"RTSP/1.0 200 OK\r\nCSeq: 3\r\nContent-Le"}), "timeout"),
])
def test_hostile_answers_fail_with_a_kind_and_no_password(answer, kind):
    with rtsp_server(answer) as url:
        conn = RtspConnection(url, 2)
        if kind is None:  # harmless: the line after the control URL is a separate SDP line
            conn.play()
            conn.close()
            return
        with pytest.raises(StreamOpenError) as failed:
            conn.play()
    assert failed.value.kind == kind, failed.value
    assert "s3cret-pw" not in str(failed.value)


def test_a_camera_that_does_not_send_h264_is_left_to_pyav(tmp_path):
    sdp = b"v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H265/90000\r\na=control:t\r\n"
    with rtsp_server(staged(sdp)) as url:
        segmenter = Segmenter("cam-1", "hq", SpoolSink(tmp_path), lambda item: None,
                              SegmenterConfig(input=LIVE))
        assert record_rtp(segmenter, url, threading.Event()) is False


def test_sdp_parameter_sets_and_control_urls():
    sdp = (b"v=0\r\nm=audio 0 RTP/AVP 0\r\na=control:audio\r\n"
           b"m=video 0 RTP/AVP 97\r\na=rtpmap:97 H264/90000\r\n"
           b"a=fmtp:97 packetization-mode=1;sprop-parameter-sets=Z0IAHpWoKA9k,aM48gA==\r\n"
           b"a=control:trackID=1\r\n")
    track = parse_sdp(sdp, "rtsp://127.0.0.1:554/main/")
    assert (track.codec, track.payload_type, track.clock_rate) == ("h264", 97, 90000)
    assert track.control == "rtsp://127.0.0.1:554/main/trackID=1"
    assert [p[0] & 0x1F for p in track.parameter_sets] == [7, 8]
    assert parse_sdp(sdp.replace(b"trackID=1", b"*"), "rtsp://h/").control == "rtsp://h/"


def test_a_stale_nonce_in_a_keepalive_answer_is_taken_for_the_next_request():
    answers = []

    def answer(request: str) -> bytes:
        answers.append(request)
        if request.startswith("DESCRIBE") and "Authorization" not in request:
            return reply("401 Unauthorized", request,
                         'WWW-Authenticate: Digest realm="cam", nonce="first"\r\n')
        return staged()(request)

    with rtsp_server(answer) as url:
        conn = RtspConnection(url, 5)
        conn.play()
        assert 'nonce="first"' in conn.keepalive().decode()
        stale = b'RTSP/1.0 401 Unauthorized\r\nCSeq: 9\r\nWWW-Authenticate: Digest realm="cam", ' \
                b'nonce="second", stale=TRUE'
        units = []
        depay = H264Depacketizer(lambda *unit: units.append(unit), lambda why: None, 96,
                                 on_message=lambda head: answers.append(conn.answered(head)))
        depay.feed(stale + b"\r\n\r\n")
        assert answers[-1] is True  # a new nonce: send the keepalive again now
        assert 'nonce="second"' in conn.keepalive().decode()
        depay.feed(stale + b"\r\n\r\n")
        assert answers[-1] is False  # the same refusal again: not every tick
        conn.close()


def _kernel_stamps_reads() -> socket.socket:
    """A TCP socket holding receive timestamps on, once the kernel stamps reads.

    Linux turns stamping on for the whole machine lazily: the first socket to ask only
    schedules it, so bytes arriving just after may carry no time. Hold this open for the
    test's length (stamping stays on while any socket wants it)."""
    from camerahub.video.reactor import receive

    with socket.create_server(("127.0.0.1", 0)) as listener:
        keep = socket.create_connection(listener.getsockname())
        other, _ = listener.accept()
    keep.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_TIMESTAMPNS", 35), 1)
    keep.settimeout(10)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            other.sendall(b"?")
            if receive(keep, 16)[1] is not None:
                return keep
            threading.Event().wait(0.01)  # the kernel's work queue has not run yet
        raise AssertionError("the kernel never stamped a read")
    except BaseException:
        keep.close()
        raise
    finally:
        other.close()


def test_reads_carry_the_kernels_receive_time():
    """A read's rx is when the bytes arrived, not when the reader got to them."""
    from camerahub.video.reactor import Reactor

    stamping = _kernel_stamps_reads()
    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(listener.getsockname())
    server, _ = listener.accept()
    got: list = []
    done = threading.Event()

    class Feed:
        sock = client

        def received(self, data, rx):
            got.append((data, rx, time.time()))
            done.set()

        def tick(self, now):
            pass

        def ended(self, exc):
            pass

    reactor, feed = Reactor("test-reader"), Feed()
    try:
        reactor.add(feed)  # asks the kernel for receive times from here on
        before = time.time()
        server.sendall(b"x" * 1000)
        sent = time.time()
        assert done.wait(10)
    finally:
        reactor.remove(feed)
        for sock in (client, server, listener, stamping):
            sock.close()
    data, rx, handed = got[0]
    assert data == b"x" * 1000
    assert rx is not None and before - 0.01 <= rx <= sent + 0.01 and rx <= handed


def test_a_held_up_reader_does_not_push_back_on_the_camera():
    """Seconds of a stream wait in the kernel while the reader is held up, so the camera
    never has to send late (which would look like lost stream time)."""
    import fcntl
    import termios

    from camerahub.video.reactor import RECV_BUFFER, Reactor

    rmem_max = int(Path("/proc/sys/net/core/rmem_max").read_text())
    amount = min(1 << 20, RECV_BUFFER, rmem_max) // 2  # about 3 s of a 3 Mbit/s camera
    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(listener.getsockname())
    server, _ = listener.accept()
    holding, release = threading.Event(), threading.Event()

    class Feed:
        sock = client

        def received(self, data, rx):
            holding.set()
            release.wait(30)  # the reader is held up here

        def tick(self, now):
            pass

        def ended(self, exc):
            pass

    def queued() -> int:
        buf = bytearray(4)
        fcntl.ioctl(client.fileno(), termios.FIONREAD, buf)
        return int.from_bytes(buf, "little")

    reactor, feed = Reactor("test-reader"), Feed()
    try:
        reactor.add(feed)
        server.sendall(b"x")
        assert holding.wait(10)
        server.settimeout(10)
        server.sendall(b"y" * amount)  # arrives while nobody reads
        deadline = time.monotonic() + 10
        while queued() < amount and time.monotonic() < deadline:
            time.sleep(0.01)
        assert queued() >= amount, (queued(), client.getsockopt(socket.SOL_SOCKET,
                                                                socket.SO_RCVBUF))
    finally:
        release.set()
        reactor.remove(feed)
        for sock in (client, server, listener):
            sock.close()


def test_a_keyframe_read_together_with_plays_answer_starts_the_session(sim, tmp_path):
    """Data that arrives in the same read as PLAY's answer is footage like any other."""
    from fractions import Fraction

    from camerahub.video.guard import SessionGuard
    from camerahub.video.rtprecord import RtpFeed

    data, track = read_session(sim.rtsp_url(camera_id(sim)), 2)
    sdp = (b"v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:t\r\n")

    def answer(request: str) -> bytes:
        if request.startswith("PLAY"):
            return reply("200 OK", request, "Session: 1\r\n") + data
        return staged(sdp)(request)

    started = []
    with rtsp_server(answer) as url:
        conn = RtspConnection(url, 5)
        conn.play()
        conn.sock.settimeout(5)
        while len(conn.buf) < 20_000:  # a first keyframe or two, read with the answer
            conn.buf += conn.sock.recv(65536)

        def make_session(stream, time_base: Fraction, defer):
            started.append((stream.codec_context.name, time_base, defer))
            return _Recorded()

        feed = RtpFeed(conn, track, make_session, SessionGuard(3), 3, "cam")
        conn.close()
    assert started and started[0][0] == "h264" and started[0][2] == feed.jobs.put
    assert feed.session.units > 0


class _Recorded:
    """A stand-in session that counts what it is handed."""

    refusal = ""

    def __init__(self) -> None:
        self.units = 0

    def handle(self, packet, nals) -> None:
        self.units += 1

    def lost(self, why: str) -> None:
        pass


def test_what_the_kernel_holds_at_a_stop_is_recorded(sim, tmp_path):
    """At a stop, the stream the camera sent that no read took yet (a reader's pause, more
    on a busy machine) goes into the last segment; before, it was left in the socket."""
    import array
    import fcntl
    import termios
    from fractions import Fraction

    from camerahub.video.guard import SessionGuard
    from camerahub.video.rtprecord import RtpFeed
    from camerahub.video.segmenter import SegmentSession
    from tests.support.wait import wait_for

    url = sim.rtsp_url(camera_id(sim))
    infos: list[SpoolItem] = []
    segmenter = Segmenter(camera_id(sim), "hq", SpoolSink(tmp_path / "spool"), infos.append,
                          SegmenterConfig(segment_seconds=60, input=LIVE))
    guard = SessionGuard(LIVE.read_timeout_s)
    conn = RtspConnection(url, 10)
    track = conn.play()

    def make_session(stream, time_base: Fraction, defer):
        return SegmentSession(segmenter, stream, url, guard, True, segmenter.clock(),
                              time_base=time_base, holds_frames=False, defer=defer)

    feed = RtpFeed(conn, track, make_session, guard, LIVE.read_timeout_s, "cam")
    conn.sock.settimeout(5)
    while feed.session is None or feed.session.segment is None:  # the reader's reads
        feed.received(conn.sock.recv(65536), None)
    read = feed.depay.units

    def unread() -> int:
        pending = array.array("i", [0])
        fcntl.ioctl(conn.sock.fileno(), termios.FIONREAD, pending)
        return pending[0]

    wait_for(lambda: unread() >= 40_000, timeout=30)  # the reader paused; the camera did not
    feed.stop = threading.Event()
    feed.stop.set()
    feed.close()
    assert feed.error is None
    (info,) = infos
    assert info.frames >= read + 5, (info.frames, read)
    assert probe_segment(info.path).playable
