"""A cheaper RTSP reading path, prototyped for measurement only (issue 19).

Reads each camera's interleaved RTSP/TCP stream with large reads, parses the `$`-framed RTP
packets and depacketizes H.264 (RFC 6184: single NAL units, STAP-A, FU-A) into access units
in Python, then muxes the access units with PyAV into MPEG-TS segments cut on the first IDR
after every `--segment-seconds` of stream time, hashing each segment (SHA-256) as it is
written. Nothing of FFmpeg's RTSP client or demuxer is used: libavformat only muxes.

Sessions: OPTIONS, DESCRIBE (SPS/PPS from the SDP's sprop-parameter-sets), SETUP
(RTP/AVP/TCP interleaved), PLAY; credentials from the URL, Basic first and Digest (MD5)
when the camera answers 401 with a Digest challenge.

Two ways of running the cameras (`--mode`):
- selector: one thread, one selector over every socket; each pass reads what arrived
  (up to `--read-size`), then sleeps `--pause` so that reads stay large;
- threads: one thread per camera, blocking reads of up to `--read-size`, the same pause.

    python benchmarks/rtp_reader.py --out DIR [--mode selector|threads] URL [URL...]

Writes DIR/camNNN/NNNNN.ts and DIR/camNNN/segments.csv (file, sha256, first pts, duration
in seconds, frames). Prints "reading N sessions" once every session plays; on SIGTERM or
SIGINT closes the open segments and prints one JSON line of counts.

This is a benchmark prototype, not product code: no keepalive, no RTCP receiver reports,
no receipt-time stamps, no reconnects, and only the input checks listed in
docs/recorder-engines.md. Its depacketizer went into the product
(camerahub.video.rtp.H264Depacketizer), which it now uses, so the `rtp_py` figures measure
the product's depacketizing; the product path as a whole is record_engines.py's `camerahub`.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import re
import secrets
import selectors
import signal
import socket
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path
from urllib.parse import unquote, urlsplit

import av

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from camerahub.video.rtp import H264Depacketizer  # noqa: E402

READ = 256 << 10
PAUSE_S = 0.05
CLOCK = 90_000
TIME_BASE = Fraction(1, CLOCK)
MAX_HEAD = 64 << 10
WRITE_BUFFER = 64 << 10


# --- RTSP ---------------------------------------------------------------------------------

class RtspClient:
    """The request/response half of one RTSP connection (what comes before PLAY)."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        self.user, self.password = unquote(parts.username or ""), unquote(parts.password or "")
        self.url = parts._replace(netloc=f"{parts.hostname}:{parts.port or 554}").geturl()
        self.sock = socket.create_connection((parts.hostname, parts.port or 554), timeout)
        self.buf = b""
        self.cseq = 0
        self.digest: dict[str, str] | None = None

    def _auth(self, method: str, uri: str) -> str:
        if self.digest is None:
            token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            return f"Basic {token}"
        d = self.digest
        md5 = lambda s: hashlib.md5(s.encode(), usedforsecurity=False).hexdigest()  # noqa: E731
        ha1 = md5(f"{self.user}:{d['realm']}:{self.password}")
        ha2 = md5(f"{method}:{uri}")
        fields = {"username": self.user, "realm": d["realm"], "nonce": d["nonce"], "uri": uri}
        if "auth" in d.get("qop", "").split(","):
            cnonce = secrets.token_hex(8)
            fields.update(qop="auth", nc="00000001", cnonce=cnonce,
                          response=md5(f"{ha1}:{d['nonce']}:00000001:{cnonce}:auth:{ha2}"))
        else:
            fields["response"] = md5(f"{ha1}:{d['nonce']}:{ha2}")
        text = ", ".join(f'{k}={v}' if k in ("qop", "nc") else f'{k}="{v}"'
                         for k, v in fields.items())
        return f"Digest {text}"

    def request(self, method: str, uri: str, extra: dict[str, str] | None = None
                ) -> tuple[dict[str, str], bytes]:
        """Send one request (retried once with Digest after a 401); headers and body."""
        for _attempt in range(2):
            self.cseq += 1
            lines = [f"{method} {uri} RTSP/1.0", f"CSeq: {self.cseq}",
                     "User-Agent: camerahub-rtp-prototype"]
            if method != "OPTIONS":
                lines.append(f"Authorization: {self._auth(method, uri)}")
            lines += [f"{k}: {v}" for k, v in (extra or {}).items()]
            self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
            status, headers, body = self._response()
            if status == 401 and self.digest is None:
                challenge = headers.get("www-authenticate", "")
                if challenge.lower().startswith("digest"):
                    self.digest = {
                        (m.group(1) or m.group(3)).lower():
                            m.group(2) if m.group(1) else m.group(4)
                        for m in re.finditer(r'(\w+)="([^"]*)"|(\w+)=([^\s,]+)', challenge)}
                    continue
            if status != 200:
                raise ConnectionError(f"{method}: RTSP status {status}")
            return headers, body
        raise ConnectionError(f"{method}: unauthorized")

    def _response(self) -> tuple[int, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > MAX_HEAD:
                raise ConnectionError("response head too long")
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("connection closed")
            self.buf += chunk
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        first, *lines = head.decode("latin-1").split("\r\n")
        try:
            status = int(first.split(" ", 2)[1])
        except (IndexError, ValueError) as exc:
            raise ConnectionError(f"not an RTSP response: {first[:40]!r}") from exc
        headers = {}
        for line in lines:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        if not 0 <= length <= MAX_HEAD:
            raise ConnectionError("bad content-length")
        while len(rest) < length:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("connection closed")
            rest += chunk
        self.buf = rest[length:]  # interleaved data that followed the response
        return status, headers, rest[:length]


def open_session(url: str) -> tuple[socket.socket, bytes, list[bytes]]:
    """OPTIONS, DESCRIBE, SETUP and PLAY the first H.264 video track of url: the socket,
    the bytes already read past PLAY's response, and the SDP's parameter sets."""
    rtsp = RtspClient(url)
    rtsp.request("OPTIONS", rtsp.url)
    headers, sdp = rtsp.request("DESCRIBE", rtsp.url, {"Accept": "application/sdp"})
    base = headers.get("content-base", rtsp.url)
    video = sdp.decode("latin-1").split("m=video", 1)[1].split("\nm=", 1)[0]
    if "H264/90000" not in video:
        raise ConnectionError("the first video track is not H.264")
    control = re.search(r"a=control:(\S+)", video).group(1)
    track = control if "://" in control else base.rstrip("/") + "/" + control
    sprop = re.search(r"sprop-parameter-sets=([A-Za-z0-9+/=,]+)", video)
    params = [base64.b64decode(p) for p in sprop.group(1).split(",") if p] if sprop else []
    headers, _ = rtsp.request("SETUP", track,
                              {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"})
    session = headers["session"].split(";")[0]
    rtsp.request("PLAY", base, {"Session": session, "Range": "npt=0.000-"})
    return rtsp.sock, rtsp.buf, params


# --- segments -----------------------------------------------------------------------------

class HashingFile:
    """The file PyAV writes a segment into: hashed as written, no second read."""

    def __init__(self, path: Path) -> None:
        self.file = path.open("wb")
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.size += len(data)
        return self.file.write(data)

    def close(self) -> None:
        self.file.close()


class SegmentWriter:
    """Access units in, MPEG-TS segments out, each cut on an IDR after `seconds`."""

    def __init__(self, folder: Path, seconds: float) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder, self.limit = folder, int(seconds * CLOCK)
        self.index = (folder / "segments.csv").open("a", encoding="utf-8")
        self.template_input = self.template = None
        self.container = self.stream = self.file = None
        self.number = self.start = self.last = self.frames = self.step = 0
        self.segments = 0

    def _open(self, pts: int, au: bytes) -> None:
        if self.template is None:
            # codec parameters from the first keyframe itself (SPS/PPS in-band or from SDP)
            self.template_input = av.open(io.BytesIO(au), format="h264")
            self.template = self.template_input.streams.video[0]
        self.number += 1
        self.file = HashingFile(self.folder / f"{self.number:05d}.ts")
        self.container = av.open(self.file, "w", format="mpegts", buffer_size=WRITE_BUFFER,
                                 container_options={"flush_packets": "0"})
        self.stream = self.container.add_stream_from_template(self.template)
        self.start, self.frames = pts, 0

    def write(self, pts: int, au: bytes, key: bool) -> None:
        if key and (self.container is None or pts - self.start >= self.limit):
            self.close()
            self._open(pts, au)
        if self.container is None:
            return  # before the first keyframe
        packet = av.Packet(au)
        packet.pts = packet.dts = pts
        packet.time_base = TIME_BASE
        packet.is_keyframe = key
        packet.stream = self.stream
        self.container.mux(packet)
        if self.frames:
            self.step = pts - self.last
        self.last = pts
        self.frames += 1

    def close(self) -> None:
        if self.container is None:
            return
        self.container.close()
        self.file.close()
        duration = (self.last - self.start + self.step) / CLOCK
        self.index.write(f"{self.number:05d}.ts,{self.file.sha.hexdigest()},{self.start},"
                         f"{duration:.3f},{self.frames}\n")
        self.index.flush()
        self.segments += 1
        self.container = self.stream = self.file = None

    def finish(self) -> None:
        self.close()
        self.index.close()
        if self.template_input is not None:
            self.template_input.close()


# --- running the cameras ------------------------------------------------------------------

class Camera:
    def __init__(self, url: str, folder: Path, seconds: float) -> None:
        self.sock, early, params = open_session(url)
        self.writer = SegmentWriter(folder, seconds)
        # the product's depacketizer (camerahub.video.rtp), which began as this prototype's
        self.depay = H264Depacketizer(lambda ts, au, key, _nals: self.writer.write(ts, au, key),
                                      lambda _why: None, 96, params)
        self.bytes = len(early)
        self.error: str | None = None
        if early:
            self.depay.feed(early)


def run_selector(cameras: list[Camera], stopping: threading.Event, read: int,
                 pause: float) -> None:
    sel = selectors.DefaultSelector()
    for cam in cameras:
        cam.sock.setblocking(False)
        sel.register(cam.sock, selectors.EVENT_READ, cam)
    while not stopping.is_set() and sel.get_map():
        for key, _ in sel.select(timeout=0.5):
            cam = key.data
            try:
                chunk = cam.sock.recv(read)
            except BlockingIOError:
                continue
            except OSError as exc:
                chunk, cam.error = b"", repr(exc)
            if not chunk:
                cam.error = cam.error or "closed by camera"
                sel.unregister(cam.sock)
                continue
            cam.bytes += len(chunk)
            cam.depay.feed(chunk)
        time.sleep(pause)


def run_threads(cameras: list[Camera], stopping: threading.Event, read: int,
                pause: float) -> None:
    def one(cam: Camera) -> None:
        cam.sock.settimeout(1.0)
        while not stopping.is_set():
            try:
                chunk = cam.sock.recv(read)
            except TimeoutError:
                continue
            except OSError as exc:
                cam.error = repr(exc)
                return
            if not chunk:
                cam.error = "closed by camera"
                return
            cam.bytes += len(chunk)
            cam.depay.feed(chunk)
            time.sleep(pause)

    threads = [threading.Thread(target=one, args=(c,), name=f"cam{i}", daemon=True)
               for i, c in enumerate(cameras)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--mode", choices=("selector", "threads"), default="selector")
    parser.add_argument("--segment-seconds", type=float, default=10.0)
    parser.add_argument("--read-size", type=int, default=READ)
    parser.add_argument("--pause", type=float, default=PAUSE_S)
    parser.add_argument("urls", nargs="+")
    args = parser.parse_args()
    cameras = [Camera(u, args.out / f"cam{i:03d}", args.segment_seconds)
               for i, u in enumerate(args.urls)]
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    print(f"reading {len(cameras)} sessions", flush=True)
    run = run_selector if args.mode == "selector" else run_threads
    run(cameras, stopping, args.read_size, args.pause)
    for cam in cameras:
        cam.writer.finish()
        cam.sock.close()
    d = [c.depay for c in cameras]
    print(json.dumps({
        "sessions": len(cameras), "mode": args.mode,
        "bytes": sum(c.bytes for c in cameras),
        "packets": sum(x.packets for x in d), "access_units": sum(x.units for x in d),
        "dropped_units": sum(x.losses for x in d),
        "skipped_bytes": sum(x.skipped_bytes for x in d), "rtcp": sum(x.rtcp for x in d),
        "segments": sum(c.writer.segments for c in cameras),
        "errors": sorted({c.error for c in cameras if c.error})}), flush=True)


if __name__ == "__main__":
    main()
