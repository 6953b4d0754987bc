"""TLS to cameras (rtsps://): always verified, never "encrypted but unchecked".

FFmpeg's RTSP client opens TLS without checking the camera's certificate, and its RTSP
demuxer passes no option down to its TLS layer that would make it check. So FFmpeg never
speaks TLS to a camera here:

- our RTSP client (camerahub.video.rtsp, the recorder's "rtp" engine) speaks it itself,
  through `open_tls`;
- where FFmpeg reads an rtsps:// camera (live view, snapshots, cameras that do not send
  H.264, `recorder.engine: pyav`), it reads through a `Tunnel`: a loopback port whose one
  connection camerahub carries to the camera over TLS that camerahub has verified first.

A camera's certificate must chain to the system's CAs, or to the deployment's
`defaults.tls_ca_file` (the office's own CA, or the cameras' self-signed certificates
gathered in one PEM file), and must name the host the URL names (an IP address SAN for a
camera addressed by IP). Anything else fails with the error kind "untrusted", recorded as
a gap with cause `untrusted_certificate`; no byte of RTSP, and so no credential, is sent
to a camera that has not proved who it is.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import selectors
import socket
import ssl
import threading
from urllib.parse import urlsplit, urlunsplit

from camerahub.redact import redact
from camerahub.tlscontext import camera_tls_context
from camerahub.video.errors import StreamOpenError

log = logging.getLogger(__name__)

DEFAULT_PORT = 322  # RTSP over TLS (RFC 2326, section 19.2)
_PUMP_READ = 256 * 1024


@functools.lru_cache(maxsize=8)
def client_context(ca_file: str | None = None) -> ssl.SSLContext:
    """The context every camera connection is verified with: the system's CAs, or the
    PEM file given; TLS 1.2 at least, the certificate checked against the host name.

    Raises StreamOpenError("invalid") when the CA file cannot be read or holds no
    certificate."""
    try:
        context = camera_tls_context(ca_file)
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or exc
        raise StreamOpenError("invalid", f"the cameras' CA file {ca_file} cannot be used: "
                              f"{reason}") from None
    return context


def open_tls(host: str, port: int, timeout_s: float, ca_file: str | None,
             redacted: str, sock: socket.socket | None = None) -> ssl.SSLSocket:
    """A verified TLS connection to the camera (over `sock` when given, else a new one).

    Raises StreamOpenError: "untrusted" when the certificate does not chain to a trusted
    CA or does not name `host`, "timeout", "unreachable" for anything else; the socket
    is closed then."""
    context = client_context(ca_file)
    timeout_s = max(timeout_s, 0.001)  # what is left of an open timeout may be spent
    try:
        if sock is None:
            sock = socket.create_connection((host, port), timeout=timeout_s)
        else:
            sock.settimeout(timeout_s)
    except TimeoutError as exc:
        raise StreamOpenError("timeout", f"{redacted}: connect timed out") from exc
    except OSError as exc:
        raise StreamOpenError("unreachable", f"{redacted}: {exc.strerror or exc}") from exc
    try:
        return context.wrap_socket(sock, server_hostname=host)
    except ssl.SSLCertVerificationError as exc:
        sock.close()
        raise StreamOpenError("untrusted", f"{redacted}: the camera's certificate is not "
                              f"trusted ({exc.verify_message})") from None
    except TimeoutError as exc:
        sock.close()
        raise StreamOpenError("timeout", f"{redacted}: TLS handshake timed out") from exc
    except (OSError, ValueError) as exc:
        sock.close()
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
        raise StreamOpenError("unreachable", f"{redacted}: TLS failed ({reason})") from None


def read_available(sock: ssl.SSLSocket, size: int) -> bytes:
    """What a non-blocking TLS socket holds now: records are read until the kernel has no
    more bytes (about `size` at most, and never leaving decrypted bytes inside the TLS
    layer, where no selector would see them). b"" at the end of the connection.

    Raises BlockingIOError when nothing is there yet."""
    chunks: list[bytes] = []
    total = 0
    while total < size or sock.pending():
        try:
            chunk = sock.recv(max(size - total, sock.pending(), 1))
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            break
        if not chunk:
            if chunks:
                break
            return b""
        chunks.append(chunk)
        total += len(chunk)
    if not chunks:
        raise BlockingIOError("no TLS record complete yet")
    return b"".join(chunks)


class Tunnel:
    """A loopback port for FFmpeg: its one connection is carried to an rtsps:// camera
    over TLS verified before the port opens. `url` is what FFmpeg opens (rtsp://, the
    camera's credentials and path kept). The tunnel ends when either side closes, or when
    nothing connects within the open timeout."""

    def __init__(self, url: str, timeout_s: float, ca_file: str | None = None) -> None:
        parts = urlsplit(url)
        redacted = redact(url)
        if parts.scheme != "rtsps" or not parts.hostname:
            raise StreamOpenError("invalid", f"{redacted}: not an rtsps:// URL")
        try:
            port = parts.port or DEFAULT_PORT
        except ValueError as exc:
            raise StreamOpenError("invalid", f"{redacted}: bad port") from exc
        self.timeout_s = timeout_s
        self.upstream = open_tls(parts.hostname, port, timeout_s, ca_file, redacted)
        try:
            self.listener = socket.create_server(("127.0.0.1", 0))
        except OSError:
            self.upstream.close()
            raise
        userinfo = parts.netloc.rpartition("@")[0]
        local = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self.url = urlunsplit(("rtsp", f"{userinfo}@{local}" if userinfo else local,
                               parts.path or "/", parts.query, ""))
        self.name = f"{parts.hostname}:{port}"
        self.thread = threading.Thread(target=self._run, name="rtsps-tunnel", daemon=True)
        self.thread.start()

    def close(self) -> None:
        """End the tunnel now (FFmpeg's side sees the connection close). Shut down first:
        on Linux closing alone wakes neither a thread blocked in accept nor a selector."""
        for sock in (self.listener, self.upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()

    def _run(self) -> None:
        local = None
        try:
            self.listener.settimeout(self.timeout_s)
            while local is None:
                conn, peer = self.listener.accept()
                if from_this_process(conn):
                    local = conn
                else:  # another process on this host raced FFmpeg to the port
                    log.warning("rtsps tunnel to %s: refused a connection from another "
                                "process (%s:%s)", self.name, *peer[:2])
                    conn.close()
            self.listener.close()
            self._pump(local)
        except OSError as exc:
            log.debug("rtsps tunnel to %s ended: %s", self.name, exc)
        finally:
            if local is not None:
                with contextlib.suppress(OSError):
                    local.close()
            self.close()

    def _pump(self, local: socket.socket) -> None:
        local.settimeout(self.timeout_s)
        self.upstream.setblocking(False)
        with selectors.DefaultSelector() as sel:
            sel.register(local, selectors.EVENT_READ)
            sel.register(self.upstream, selectors.EVENT_READ)
            while True:
                for key, _ in sel.select():
                    if key.fileobj is local:
                        data = local.recv(_PUMP_READ)
                        if not data:
                            return
                        self._send_upstream(data)
                    else:
                        try:
                            data = read_available(self.upstream, _PUMP_READ)
                        except BlockingIOError:
                            continue
                        if not data:
                            return
                        local.sendall(data)

    def _send_upstream(self, data: bytes) -> None:
        """FFmpeg's requests to the camera (small): sent whole, waiting while TLS wants."""
        view = memoryview(data)
        with selectors.DefaultSelector() as wait:
            wait.register(self.upstream, selectors.EVENT_WRITE)
            while view:
                try:
                    view = view[self.upstream.send(view):]
                except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
                    if not wait.select(self.timeout_s):
                        raise TimeoutError("the camera took no data") from None


def from_this_process(conn: socket.socket) -> bool:
    """Whether the loopback peer of an accepted connection is a socket of this process
    (Linux: the peer's address in /proc/net/tcp, its inode among our descriptors)."""
    host, port = conn.getpeername()[:2]
    try:
        wanted = f"{socket.inet_aton(host)[::-1].hex().upper()}:{port:04X}"
        with open("/proc/net/tcp", encoding="ascii") as table:
            inodes = {f"socket:[{row[9]}]" for row in map(str.split, table)
                      if len(row) > 9 and row[1] == wanted}
        if not inodes:
            return False
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return False
    for fd in fds:
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/self/fd/{fd}") in inodes:
                return True
    return False
