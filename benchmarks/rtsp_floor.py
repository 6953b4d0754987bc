"""The floor of recording cost: read RTSP sessions' bytes to nowhere, as cheaply as possible.

Opens each URL (RTSP 1.0 over TCP, Basic auth from the URL, the first video track, RTP
interleaved on the RTSP connection), then reads every connection with large reads (what
50 ms brought) into one reusable buffer from a single thread until SIGTERM or SIGINT.
Nothing is parsed, kept or written: whatever recorder records these streams cannot spend
less CPU than this process.

    python benchmarks/rtsp_floor.py URL [URL...]

Prints "reading N sessions" once every session plays, and at exit one JSON line with the
bytes read.
"""

from __future__ import annotations

import base64
import json
import re
import selectors
import signal
import socket
import sys
import time
from urllib.parse import unquote, urlsplit

READ = 1 << 20
PAUSE_S = 0.05  # between passes, so that each read takes what 50 ms brought: large reads


def _request(sock: socket.socket, method: str, url: str, cseq: int, auth: str,
             extra: dict[str, str] | None = None) -> tuple[dict[str, str], bytes]:
    """One RTSP request and its response (headers, body); raises on a non-200 status."""
    lines = [f"{method} {url} RTSP/1.0", f"CSeq: {cseq}", f"Authorization: {auth}",
             "User-Agent: camerahub-floor"]
    lines += [f"{k}: {v}" for k, v in (extra or {}).items()]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError(f"{method}: connection closed")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status, *header_lines = head.decode("latin-1").split("\r\n")
    if " 200 " not in f"{status} ":
        raise ConnectionError(f"{method}: {status}")
    headers = {}
    for line in header_lines:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        body += sock.recv(length - len(body))
    return headers, body


def open_session(url: str) -> socket.socket:
    """DESCRIBE, SETUP (interleaved TCP) and PLAY the first video track of url."""
    parts = urlsplit(url)
    auth = "Basic " + base64.b64encode(
        f"{unquote(parts.username or '')}:{unquote(parts.password or '')}".encode()).decode()
    clean = parts._replace(netloc=f"{parts.hostname}:{parts.port or 554}").geturl()
    sock = socket.create_connection((parts.hostname, parts.port or 554), timeout=30)
    headers, sdp = _request(sock, "DESCRIBE", clean, 1, auth, {"Accept": "application/sdp"})
    base = headers.get("content-base", clean)
    video = sdp.decode("latin-1").split("m=video", 1)[1]
    control = re.search(r"a=control:(\S+)", video).group(1)
    track = control if "://" in control else base.rstrip("/") + "/" + control
    headers, _ = _request(sock, "SETUP", track, 2, auth,
                          {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"})
    session = headers["session"].split(";")[0]
    _request(sock, "PLAY", base, 3, auth, {"Session": session, "Range": "npt=0.000-"})
    sock.setblocking(False)
    return sock


def main() -> None:
    urls = sys.argv[1:]
    socks = [open_session(u) for u in urls]
    print(f"reading {len(socks)} sessions", flush=True)
    stopping = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.append(True))
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    buf = bytearray(READ)
    view = memoryview(buf)
    total = 0
    while not stopping:
        for key, _ in sel.select(timeout=0.5):
            try:
                n = key.fileobj.recv_into(view)
            except BlockingIOError:
                continue
            except OSError:
                n = 0
            if n == 0:
                sel.unregister(key.fileobj)
            total += n
        time.sleep(PAUSE_S)
    print(json.dumps({"sessions": len(socks), "bytes": total}), flush=True)


if __name__ == "__main__":
    main()
