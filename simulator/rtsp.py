"""RTSP 1.0 server (RFC 2326) with Digest auth, streaming looped H.264 over interleaved TCP."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import inspect
import logging
import random
import re
import secrets
import ssl
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from simulator.httpd import cancel_all, parse_header_lines
from simulator.rtp import (
    PacketizedLoop,
    garbage_packets,
    interleave,
    jumping_timestamp,
    sender_report,
)
from simulator.state import CameraState

log = logging.getLogger(__name__)

REALM = "camerahub-sim"
MAX_HEAD = 16 << 10
MAX_BODY = 64 << 10
MAX_CLIENT_BUFFER = 4 << 20  # bytes queued for one client before it counts as too slow
SESSION_TIMEOUT = 60
SR_INTERVAL = 5.0  # seconds between RTCP sender reports
SENT_LOG = 600  # keyframes and session starts remembered per stream for the control endpoint
PATH_ALIASES = {"stream1": "main", "stream2": "sub", "h264": "main"}
SERVER = "camerahub-sim RTSP/1.0"
SAFE_METHODS = {"OPTIONS"}  # answered before authentication, as most cameras do
PUBLIC = "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER"


class RtspError(Exception):
    """A request answered with an RTSP error status."""

    def __init__(self, status: int, reason: str, headers: dict | None = None) -> None:
        super().__init__(reason)
        self.status, self.reason, self.headers = status, reason, headers or {}


@dataclass
class RtspRequest:
    """One parsed RTSP request."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes = b""

    @property
    def cseq(self) -> str:
        """The CSeq to echo."""
        return self.headers.get("cseq", "0")


class StreamSource:
    """One camera profile as a live, endless stream fanned out to many sessions.

    Every packet's sequence number and timestamp is a pure function of the frame number
    since `epoch`, so the stream stays continuous across loop wraps and idle periods, and
    PLAY can announce exact RTP-Info. The pacing task runs only while someone watches.
    """

    def __init__(self, camera: CameraState, loop: PacketizedLoop, epoch: float) -> None:
        self.camera, self.loop, self.epoch = camera, loop, epoch
        self.fps = loop.loop.spec.fps
        self.gop = loop.loop.spec.gop
        self.ssrc = random.getrandbits(32)
        self.seq_base = random.getrandbits(16)
        self.ts_base = random.getrandbits(32)
        self.sessions: set[RtspSession] = set()
        self._task: asyncio.Task | None = None
        self.packets_sent = 0
        self.octets_sent = 0
        # When each keyframe's first packet and each session's first packet left, by our
        # wall clock: what a recorder's timestamps are checked against.
        self.keyframes_sent: deque[dict] = deque(maxlen=SENT_LOG)
        self.sessions_started: deque[dict] = deque(maxlen=SENT_LOG)
        self._garbage_ts = self.ts_base
        self._lose_count = 0  # RTP packets counted by the lose_packets fault
        self.skips: deque[dict] = deque(maxlen=SENT_LOG)  # frames skipped when far behind
        self.withheld = 0  # frames the stall fault kept back (a hole in the stream's time)

    def frame_now(self) -> int:
        """The frame number due at this instant."""
        return int((time.monotonic() - self.epoch) * self.fps)

    def next_keyframe(self, frame_no: int) -> int:
        """The first IDR at or after `frame_no` (loops are whole GOPs)."""
        return -(-frame_no // self.gop) * self.gop

    def rtp_info(self, frame_no: int) -> tuple[int, int]:
        """(seq, rtptime) of the first packet of `frame_no`."""
        seq = (self.seq_base + self.loop.first_seq(frame_no)) & 0xFFFF
        ts = (self.ts_base + frame_no * self.loop.ticks_per_frame) & 0xFFFFFFFF
        return seq, ts

    def subscribe(self, session: RtspSession) -> int:
        """Attach a session from the next IDR on; returns that frame number."""
        session.start_frame = self.next_keyframe(self.frame_now() + 1)
        self.sessions.add(session)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        return session.start_frame

    async def close(self) -> None:
        """Stop the pacing task for good (simulator shutdown)."""
        self.sessions.clear()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def unsubscribe(self, session: RtspSession) -> None:
        """Detach a session; the pacing task ends by itself when nobody is left."""
        self.sessions.discard(session)

    async def _run(self) -> None:
        """Send each frame at its due time to every attached session."""
        frame_no = self.frame_now() + 1
        next_sr = time.monotonic()
        while self.sessions:
            delay = self.epoch + frame_no / self.fps - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -2.0:
                # far behind (machine overloaded): rejoin the clock instead of bursting;
                # the frames skipped are a loss of this camera's, noted for tests to tell
                # from their recorder's
                now = self.frame_now()
                self.skips.append({"wall": time.time(), "frames": now - frame_no})
                log.warning("camera %s: %.1f s behind its clock; %d frames skipped",
                            self.camera.camera_id, -delay, now - frame_no)
                frame_no = now
            if not self.camera.faults.stall:
                self._send_frame(frame_no)
                if time.monotonic() >= next_sr:
                    self._send_sr(frame_no)
                    next_sr = time.monotonic() + SR_INTERVAL
            else:
                self.withheld += 1
            frame_no += 1

    def _send_frame(self, frame_no: int) -> None:
        """Send frame `frame_no` to every attached session, or what a fault sends instead."""
        receivers = [s for s in self.sessions if frame_no >= s.start_frame]
        if not receivers:
            return
        faults = self.camera.faults
        if faults.random_bytes:
            self._send_random(frame_no, receivers)
            return
        if faults.garbage_rtp:
            packets = self._garbage(frame_no, faults.garbage_rtp)
        else:
            packets = self.loop.rtp_packets(frame_no, self.ssrc, self.seq_base, self.ts_base)
            if faults.lose_packets:
                packets = self._lose(packets, faults.lose_packets)
        self.packets_sent += len(packets)
        self.octets_sent += sum(len(p) - 12 for p in packets)
        sent_at = time.time()
        self._fan_out(packets, receivers)
        if not faults.garbage_rtp:
            self._log_sent(frame_no, sent_at, receivers)

    def _lose(self, packets: list[bytes], every: int) -> list[bytes]:
        """The lose_packets fault: every Nth packet is skipped, its number with it."""
        kept = []
        for packet in packets:
            self._lose_count += 1
            if self._lose_count % every:
                kept.append(packet)
        return kept

    def _fan_out(self, packets: list[bytes], receivers: list[RtspSession]) -> None:
        """Hand packets to each session, framed once per interleaved channel."""
        by_channel: dict[int, bytes] = {}
        for session in receivers:
            if session.udp is not None:
                session.udp.send(packets)
                continue
            data = by_channel.get(session.channel)
            if data is None:
                data = by_channel[session.channel] = interleave(session.channel, packets)
            session.send(data)

    def _garbage(self, frame_no: int, mode: str) -> list[bytes]:
        """The frame's packets with random payloads; timestamps per the fault's mode."""
        seq, ts = self.rtp_info(frame_no)
        if mode == "jump":
            ts = self._garbage_ts = jumping_timestamp(self._garbage_ts)
        return garbage_packets(self.loop.payload_sizes(frame_no), self.ssrc, seq, ts)

    def _send_random(self, frame_no: int, receivers: list[RtspSession]) -> None:
        """Random bytes instead of RTP, as many as the frame would have taken."""
        sizes = [n + 12 for n in self.loop.payload_sizes(frame_no)]
        for session in receivers:
            if session.udp is not None:
                session.udp.send([random.randbytes(n) for n in sizes])
            else:
                session.send(random.randbytes(sum(n + 4 for n in sizes)))

    def _log_sent(self, frame_no: int, sent_at: float, receivers: list[RtspSession]) -> None:
        """Remember when keyframes and each session's first packet were sent."""
        _, ts = self.rtp_info(frame_no)
        if self.loop.is_keyframe(frame_no):
            self.keyframes_sent.append({"wall": sent_at, "rtp_ts": ts, "frame": frame_no})
        for session in receivers:
            if session.first_sent is None:
                session.first_sent = sent_at
                self.sessions_started.append({"session": session.session_id, "wall": sent_at,
                                              "rtp_ts": ts, "frame": frame_no})

    def sent_log(self) -> dict:
        """JSON view of what was sent when (wall clock, seconds since the epoch)."""
        return {"keyframes": list(self.keyframes_sent),
                "sessions": list(self.sessions_started), "skips": list(self.skips),
                "withheld": self.withheld}

    def _send_sr(self, frame_no: int) -> None:
        """RTCP sender report on each session's RTCP channel (none while sending noise)."""
        if self.camera.faults.random_bytes:
            return
        _, ts = self.rtp_info(frame_no)
        report = sender_report(self.ssrc, ts, self.packets_sent, self.octets_sent)
        for session in list(self.sessions):
            if frame_no < session.start_frame:
                continue
            if session.udp is not None:
                session.udp.send([report], rtcp=True)
            else:
                session.send(interleave(session.channel + 1, [report]))


@dataclass(eq=False)
class UdpPair:
    """RTP and RTCP sockets of a UDP session, always sending to the RTSP client's own IP."""

    rtp: asyncio.DatagramTransport
    rtcp: asyncio.DatagramTransport
    client_host: str
    client_ports: tuple[int, int]

    @property
    def server_ports(self) -> tuple[int, int]:
        """The local RTP and RTCP ports."""
        return (self.rtp.get_extra_info("sockname")[1], self.rtcp.get_extra_info("sockname")[1])

    def send(self, packets: list[bytes], rtcp: bool = False) -> None:
        """Send datagrams; UDP has no back-pressure, a slow client just loses packets."""
        transport = self.rtcp if rtcp else self.rtp
        dest = (self.client_host, self.client_ports[1 if rtcp else 0])
        for packet in packets:
            transport.sendto(packet, dest)

    def close(self) -> None:
        """Release both sockets."""
        self.rtp.close()
        self.rtcp.close()


async def open_udp_pair(host: str, client_host: str, client_ports: tuple[int, int]) -> UdpPair:
    """Bind an even RTP port and the next odd one for RTCP on the camera's address."""
    loop = asyncio.get_running_loop()
    for _ in range(32):
        rtp, _proto = await loop.create_datagram_endpoint(asyncio.DatagramProtocol,
                                                          local_addr=(host, 0))
        port = rtp.get_extra_info("sockname")[1]
        if port % 2 == 0 and port < 65535:
            try:
                rtcp, _proto = await loop.create_datagram_endpoint(
                    asyncio.DatagramProtocol, local_addr=(host, port + 1))
            except OSError:
                rtp.close()
                continue
            return UdpPair(rtp, rtcp, client_host, client_ports)
        rtp.close()
    raise RtspError(453, "Not Enough Bandwidth")  # no port pair free: RFC 2326's closest status


@dataclass(eq=False)
class RtspSession:
    """A SETUP'd stream of one RTSP connection (interleaved TCP, or UDP when `udp` is set)."""

    session_id: str
    source: StreamSource
    transport: asyncio.WriteTransport
    channel: int
    start_frame: int = 0
    playing: bool = False
    drop_handle: asyncio.TimerHandle | None = field(default=None, repr=False)
    udp: UdpPair | None = None
    first_sent: float | None = None  # wall clock when its first packet was sent

    def send(self, data: bytes) -> None:
        """Queue data; a client too slow to drain its queue is dropped, not waited for."""
        if self.transport.is_closing():
            self.source.unsubscribe(self)
            return
        if self.transport.get_write_buffer_size() > MAX_CLIENT_BUFFER:
            log.info("dropping slow RTSP client of %s", self.source.camera.camera_id)
            self.close()
            return
        self.transport.write(data)

    def release(self) -> None:
        """Stop streaming and free the session's timers and sockets."""
        self.source.unsubscribe(self)
        if self.drop_handle is not None:
            self.drop_handle.cancel()
        if self.udp is not None:
            self.udp.close()

    def close(self) -> None:
        """Stop streaming and cut the connection."""
        self.release()
        self.transport.abort()


class DigestAuth:
    """RFC 2617 Digest (and Basic) checking against one camera's credentials."""

    def __init__(self, camera: CameraState) -> None:
        self.camera = camera
        self._nonces: OrderedDict[str, float] = OrderedDict()

    def challenge(self) -> dict[str, str]:
        """A fresh WWW-Authenticate header."""
        nonce = secrets.token_hex(16)
        self._nonces[nonce] = time.monotonic()
        while len(self._nonces) > 1024:
            self._nonces.popitem(last=False)
        return {"WWW-Authenticate": f'Digest realm="{REALM}", nonce="{nonce}", algorithm=MD5'}

    def check(self, method: str, header: str) -> bool:
        """Whether the Authorization header proves the camera's credentials."""
        if self.camera.faults.reject_auth or not header:
            return False
        scheme, _, rest = header.partition(" ")
        if scheme.lower() == "basic":
            return self._check_basic(rest.strip())
        if scheme.lower() != "digest":
            return False
        return self._check_digest(method, parse_auth_params(rest))

    def _check_basic(self, token: str) -> bool:
        try:
            user, _, password = base64.b64decode(token).decode().partition(":")
        except ValueError:
            return False
        cam = self.camera
        return _eq(user, cam.username) and _eq(password, cam.password)

    def _check_digest(self, method: str, p: dict[str, str]) -> bool:
        cam = self.camera
        if p.get("nonce") not in self._nonces or not _eq(p.get("username", ""), cam.username):
            return False
        ha1 = _md5(f"{cam.username}:{REALM}:{cam.password}")
        ha2 = _md5(f"{method}:{p.get('uri', '')}")
        if p.get("qop"):
            expected = _md5(f"{ha1}:{p['nonce']}:{p.get('nc', '')}:{p.get('cnonce', '')}:"
                            f"{p['qop']}:{ha2}")
        else:
            expected = _md5(f"{ha1}:{p['nonce']}:{ha2}")
        return _eq(expected, p.get("response", ""))


def _md5(text: str) -> str:
    # MD5 is what RFC 2617 Digest mandates; it is protocol, not our choice of hash.
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _eq(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


_PARAM = re.compile(r'(\w+)\s*=\s*(?:"([^"]*)"|([^\s,]+))')


def parse_auth_params(text: str) -> dict[str, str]:
    """key=value / key="value" pairs of a Digest header."""
    return {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
            for m in _PARAM.finditer(text)}


def parse_head(head: bytes) -> RtspRequest:
    """Parse an RTSP request line and headers."""
    try:
        first, *rest = head.decode("utf-8").split("\r\n")
        method, url, version = first.split(" ")
    except (UnicodeDecodeError, ValueError) as exc:
        raise RtspError(400, "Bad Request") from exc
    if version != "RTSP/1.0":
        raise RtspError(505, "RTSP Version Not Supported")
    try:
        headers = parse_header_lines(rest)
    except ValueError as exc:
        raise RtspError(400, "Bad Request") from exc
    return RtspRequest(method.upper(), url, headers)


def parse_response_headers(head: bytes) -> RtspRequest:
    """The headers of a response a client sent us, as a request-shaped record."""
    try:
        headers = parse_header_lines(head.decode("utf-8", "replace").split("\r\n")[1:])
    except ValueError:
        headers = {}
    return RtspRequest("RESPONSE", "", headers)


def encode_response(status: int, reason: str, cseq: str | None, headers: dict,
                    body: bytes = b"") -> bytes:
    """Serialize an RTSP response."""
    lines = [f"RTSP/1.0 {status} {reason}"]
    if cseq is not None:
        lines.append(f"CSeq: {cseq}")
    lines.append(f"Server: {SERVER}")
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class RtspCameraServer:
    """The RTSP endpoint of one camera."""

    def __init__(self, camera: CameraState, port: int, sources: dict[str, StreamSource],
                 tls: ssl.SSLContext | None = None) -> None:
        self.camera, self.port, self.sources = camera, port, sources
        self.tls = tls  # rtsps:// when set
        self.auth = DigestAuth(camera)
        self._server: asyncio.Server | None = None
        self.connections: set[RtspConnection] = set()

    async def start(self) -> None:
        """Start listening (idempotent)."""
        if self._server is None:
            self._server = await asyncio.start_server(
                self._accept, self.camera.address, self.port, limit=MAX_HEAD,
                reuse_address=True, ssl=self.tls)

    async def stop(self) -> None:
        """Stop listening and cut every connection and session."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for conn in list(self.connections):
            conn.abort()
        await cancel_all({c.task for c in self.connections if c.task is not None})
        if server is not None:
            await server.wait_closed()

    async def close(self) -> None:
        """Stop for good, including the pacing tasks."""
        await self.stop()
        for source in self.sources.values():
            await source.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = RtspConnection(self, reader, writer)
        self.connections.add(conn)
        try:
            await conn.run()
        finally:
            self.connections.discard(conn)

    def base_url(self) -> str:
        """rtsp://ADDR:PORT (rtsps:// over TLS)"""
        return f"{'rtsp' if self.tls is None else 'rtsps'}://{self.camera.address}:{self.port}"

    def source_for(self, url: str) -> StreamSource:
        """The stream named by the first path segment of a request URL."""
        path = urlsplit(url).path.strip("/").split("/")[0]
        source = self.sources.get(PATH_ALIASES.get(path, path))
        if source is None:
            raise RtspError(404, "Not Found")
        return source


class RtspConnection:
    """One client TCP connection: parses requests, interleaved data and runs a session."""

    def __init__(self, server: RtspCameraServer, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.server, self.reader, self.writer = server, reader, writer
        self.session: RtspSession | None = None
        self.authenticated = False
        self.task = asyncio.current_task()

    def abort(self) -> None:
        """Cut the connection now."""
        self._end_session()
        self.writer.transport.abort()

    async def run(self) -> None:
        """Serve requests until the client goes away or sends garbage."""
        try:
            while await self._serve_one():
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                TimeoutError, asyncio.CancelledError):
            pass  # cancelled means shutdown: end normally (see httpd.cancel_all)
        finally:
            # close (not abort) so a final error response still reaches the client
            self._end_session()
            self.writer.close()

    async def _serve_one(self) -> bool:
        """Handle one interleaved packet or request; False ends the connection."""
        # a client that is not playing must keep talking; a playing one is kept by TCP
        playing = self.session is not None and self.session.playing
        # ...unless the camera times playing sessions out too (the session_timeout fault)
        limit = self.server.camera.faults.session_timeout
        try:
            first = await asyncio.wait_for(self.reader.readexactly(1),
                                           limit if playing and limit else
                                           None if playing else SESSION_TIMEOUT)
        except TimeoutError:
            return False
        if first == b"$":
            # RTCP receiver reports from the client: read and ignore
            header = await self.reader.readexactly(3)
            await self.reader.readexactly(int.from_bytes(header[1:3], "big"))
            return True
        head = first + await self.reader.readuntil(b"\r\n\r\n")
        if head.lstrip(b"\r\n").startswith(b"RTSP/"):
            # a client's response to something it took for a request of ours (a client
            # answering the noise of the random-bytes fault, say): nothing to answer
            await self._read_body(parse_response_headers(head))
            return True
        try:
            request = parse_head(head.lstrip(b"\r\n"))
            request.body = await self._read_body(request)
        except RtspError as exc:
            self.writer.write(encode_response(exc.status, exc.reason, None, {}))
            return False
        self.writer.write(await self._respond(request))
        return True

    async def _read_body(self, request: RtspRequest) -> bytes:
        try:
            length = int(request.headers.get("content-length", "0"))
        except ValueError as exc:
            raise RtspError(400, "Bad Request") from exc
        if length < 0 or length > MAX_BODY:
            raise RtspError(413, "Request Entity Too Large")
        return await self.reader.readexactly(length) if length else b""

    async def _respond(self, request: RtspRequest) -> bytes:
        """Dispatch one request and encode its response."""
        if "cseq" not in request.headers:
            return encode_response(400, "Bad Request", None, {})
        handler = getattr(self, "_do_" + request.method.replace("_", "").lower(), None)
        if handler is None:
            return encode_response(501, "Not Implemented", request.cseq, {"Public": PUBLIC})
        try:
            self._authorize(request)
            result = handler(request)
            if inspect.isawaitable(result):
                result = await result
            status, headers, body = result
        except RtspError as exc:
            return encode_response(exc.status, exc.reason, request.cseq, exc.headers)
        return encode_response(status, "OK", request.cseq, headers, body)

    def _authorize(self, request: RtspRequest) -> None:
        """Digest-check the request; a connection that proved itself stays trusted."""
        if request.method in SAFE_METHODS:
            return
        header = request.headers.get("authorization", "")
        if header and self.server.auth.check(request.method, header):
            self.authenticated = True
            return
        if not header and self.authenticated and not self.server.camera.faults.reject_auth:
            return
        raise RtspError(401, "Unauthorized", self.server.auth.challenge())

    def _session_headers(self) -> dict[str, str]:
        if self.session is None:
            return {}
        timeout = self.server.camera.faults.session_timeout or SESSION_TIMEOUT
        return {"Session": f"{self.session.session_id};timeout={max(1, round(timeout))}"}

    def _check_session(self, request: RtspRequest) -> RtspSession:
        sid = request.headers.get("session", "").split(";")[0].strip()
        if self.session is None or sid != self.session.session_id:
            raise RtspError(454, "Session Not Found")
        return self.session

    def _do_options(self, _request: RtspRequest) -> tuple[int, dict, bytes]:
        return 200, {"Public": PUBLIC, **self._session_headers()}, b""

    def _do_describe(self, request: RtspRequest) -> tuple[int, dict, bytes]:
        source = self.server.source_for(request.url)
        token = source.loop.loop.spec.token
        base = f"{self.server.base_url()}/{token}/"
        sdp = build_sdp(self.server.camera, source).encode()
        return 200, {"Content-Type": "application/sdp", "Content-Base": base}, sdp

    async def _do_setup(self, request: RtspRequest) -> tuple[int, dict, bytes]:
        source = self.server.source_for(request.url)
        transport = request.headers.get("transport", "").split(",")[0]
        if self.session is not None:
            if request.headers.get("session", "").split(";")[0] != self.session.session_id:
                raise RtspError(459, "Aggregate Operation Not Allowed")
            self._end_session()
        if "TCP" in transport.upper():
            reply = self._setup_tcp(source, transport)
        else:
            reply = await self._setup_udp(source, transport)
        return 200, {"Transport": f"{reply};ssrc={source.ssrc:08X}",
                     **self._session_headers()}, b""

    def _setup_tcp(self, source: StreamSource, transport: str) -> str:
        """Interleaved RTP on this connection's channels."""
        match = re.search(r"interleaved=(\d+)", transport)
        channel = int(match.group(1)) if match else 0
        if channel > 254:
            raise RtspError(400, "Bad Request")
        self.session = RtspSession(secrets.token_hex(8), source, self.writer.transport, channel)
        return f"RTP/AVP/TCP;unicast;interleaved={channel}-{channel + 1}"

    async def _setup_udp(self, source: StreamSource, transport: str) -> str:
        """RTP/RTCP datagrams to the client's ports, always on the client's own address."""
        match = re.search(r"client_port=(\d+)(?:-(\d+))?", transport)
        if "multicast" in transport.lower() or not match:
            raise RtspError(461, "Unsupported Transport")
        rtp_port = int(match.group(1))
        rtcp_port = int(match.group(2) or rtp_port + 1)
        if not (0 < rtp_port < 65536 and 0 < rtcp_port < 65536):
            raise RtspError(400, "Bad Request")
        # the destination= parameter is ignored on purpose: never send to another host
        peer = self.writer.get_extra_info("peername")[0]
        udp = await open_udp_pair(self.server.camera.address, peer, (rtp_port, rtcp_port))
        self.session = RtspSession(secrets.token_hex(8), source, self.writer.transport, 0,
                                   udp=udp)
        server_rtp, server_rtcp = udp.server_ports
        return (f"RTP/AVP;unicast;client_port={rtp_port}-{rtcp_port};"
                f"server_port={server_rtp}-{server_rtcp}")

    def _do_play(self, request: RtspRequest) -> tuple[int, dict, bytes]:
        session = self._check_session(request)
        if not session.playing:
            start = session.source.subscribe(session)
            session.playing = True
            self._arm_drop_fault(session)
        else:
            start = session.start_frame
        seq, ts = session.source.rtp_info(start)
        url = f"{self.server.base_url()}/{session.source.loop.loop.spec.token}/trackID=1"
        headers = {"Range": "npt=0.000-", "RTP-Info": f"url={url};seq={seq};rtptime={ts}"}
        return 200, {**headers, **self._session_headers()}, b""

    def _arm_drop_fault(self, session: RtspSession) -> None:
        """The drop-after fault cuts the session T seconds after PLAY."""
        delay = self.server.camera.faults.drop_after
        if delay:
            session.drop_handle = asyncio.get_running_loop().call_later(delay, self.abort)

    def _do_pause(self, request: RtspRequest) -> tuple[int, dict, bytes]:
        session = self._check_session(request)
        session.source.unsubscribe(session)
        session.playing = False
        return 200, self._session_headers(), b""

    def _do_teardown(self, request: RtspRequest) -> tuple[int, dict, bytes]:
        self._check_session(request)
        self._end_session()
        return 200, {}, b""

    def _do_getparameter(self, request: RtspRequest) -> tuple[int, dict, bytes]:
        if "session" in request.headers:
            self._check_session(request)
        return 200, self._session_headers(), b""

    def _do_setparameter(self, request: RtspRequest) -> tuple[int, dict, bytes]:
        return self._do_getparameter(request)

    def _end_session(self) -> None:
        if self.session is not None:
            self.session.release()
            self.session = None


def build_sdp(camera: CameraState, source: StreamSource) -> str:
    """The session description of one profile (RFC 4566, RFC 6184 fmtp)."""
    loop = source.loop.loop
    spec = loop.spec
    sprop = ",".join(base64.b64encode(n).decode() for n in (loop.sps, loop.pps))
    lines = ["v=0", f"o=- {source.ssrc} 1 IN IP4 {camera.address}",
             f"s={camera.name} {spec.token}", f"c=IN IP4 {camera.address}", "t=0 0",
             "a=control:*", "a=range:npt=0-", "m=video 0 RTP/AVP 96",
             "a=rtpmap:96 H264/90000",
             f"a=fmtp:96 packetization-mode=1;profile-level-id={loop.profile_level_id};"
             f"sprop-parameter-sets={sprop}",
             f"a=framerate:{spec.fps}", f"a=x-dimensions:{spec.width},{spec.height}",
             "a=control:trackID=1", "a=sendonly"]
    return "\r\n".join(lines) + "\r\n"
