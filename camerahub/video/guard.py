"""Cutting a live session that receives bytes but no footage (a camera sending noise).

FFmpeg's socket timeout ends a session whose camera goes quiet, but not one whose camera
keeps sending bytes that never make a packet: its RTSP demuxer takes them for RTSP messages
or drops them as bad RTP, forever, inside one blocking read that never returns to Python.
PyAV's read timeout would end that read, but it takes the GIL on every socket read (see
source.pyav_timeout). Instead one watchdog thread looks at every guarded session twice a
second. When nothing recordable came for `limit_s` while the session's TCP connection took
in more than a few RTSP replies' worth of data meanwhile (TCP_INFO's byte count), it shuts
that socket down: the blocked read fails at once, and the segmenter reports the session as
invalid. A session with nothing recordable for twice the limit is cut too, and reported as
stalled: FFmpeg's socket timeout misses a camera that stops its RTP but answers RTSP
keepalives more often than the timeout.

The socket is found among the process's descriptors (Linux /proc): the TCP connection to the
camera's address and port that appeared while the session was being opened. A duplicate of
it is kept, so the socket cannot be confused with a later one that reuses the number. Where
it cannot be found (no /proc, UDP transport, a host that does not resolve), the session is
not guarded and a noise stream is still caught whenever FFmpeg does hand over packets.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import struct
import threading
import time
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

_FD_DIR = "/proc/self/fd"
_INTERVAL_S = 0.5
# struct tcp_info (linux/tcp.h, Linux >= 4.1): tcpi_bytes_received is the u64 at offset 128.
_TCP_INFO_SIZE = 136
_BYTES_RECEIVED = 128
# More than RTSP keepalive answers (a few hundred bytes) and less than a second of any video.
NOISE_BYTES = 16 * 1024
INVALID, STALLED = "invalid", "stalled"


class SessionGuard:
    """One session's progress clock and, once attached, the socket to cut."""

    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s
        self.last_ok = time.monotonic()
        self.fired: str | None = None  # INVALID or STALLED once the watchdog cut the socket
        self._sockets: list[socket.socket] = []
        self._seen_ok: float | None = None  # last_ok when the watchdog last looked
        self._baseline: int | None = None  # bytes received then

    def progress(self) -> None:
        """Something recordable arrived."""
        self.last_ok = time.monotonic()

    def idle_s(self) -> float:
        """Seconds since something recordable arrived."""
        return time.monotonic() - self.last_ok

    def attach(self, sockets: list[socket.socket]) -> None:
        """The session's connection(s), to watch and to cut."""
        self._sockets = sockets

    @property
    def attached(self) -> bool:
        """Whether there is a socket to cut."""
        return bool(self._sockets)

    def check(self) -> None:
        """Cut the session if it receives noise (or nothing) for too long (watchdog)."""
        received = self._bytes_received()
        if self.last_ok != self._seen_ok:  # progress since the last look: a new baseline
            self._seen_ok, self._baseline = self.last_ok, received
        idle = self.idle_s()
        if self.fired or idle < self.limit_s:
            return
        if None not in (received, self._baseline) and received - self._baseline >= NOISE_BYTES:
            self._cut(INVALID, idle)
        elif idle >= 2 * self.limit_s:
            self._cut(STALLED, idle)

    def _bytes_received(self) -> int | None:
        """Bytes the connection has taken in so far (None where the kernel does not say)."""
        total = None
        for sock in self._sockets:
            try:
                info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_SIZE)
            except OSError:
                continue
            if len(info) >= _BYTES_RECEIVED + 8:
                total = (total or 0) + struct.unpack_from("Q", info, _BYTES_RECEIVED)[0]
        return total

    def _cut(self, why: str, idle: float) -> None:
        """Shut the connection down so the blocked read fails."""
        self.fired = why
        log.warning("no recordable video for %.1f s (%s): cutting the connection", idle, why)
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        """Release the duplicates (the session's own descriptors are FFmpeg's)."""
        for sock in self._sockets:
            sock.close()
        self._sockets = []


class _Watchdog:
    """One thread for the process, running while any session is guarded."""

    def __init__(self) -> None:
        self._guards: set[SessionGuard] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def watch(self, guard: SessionGuard) -> None:
        """Start checking a guard."""
        with self._lock:
            self._guards.add(guard)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="stream-watchdog",
                                                daemon=True)
                self._thread.start()

    def forget(self, guard: SessionGuard) -> None:
        """Stop checking a guard."""
        with self._lock:
            self._guards.discard(guard)

    def _run(self) -> None:
        """Check every guard twice a second; end when none is left."""
        while True:
            time.sleep(_INTERVAL_S)
            with self._lock:
                guards = list(self._guards)
                if not guards:
                    self._thread = None
                    return
            for guard in guards:
                guard.check()


WATCHDOG = _Watchdog()


def socket_inodes() -> set[int]:
    """Inodes of the sockets this process holds now (empty where /proc is not there)."""
    return set(_sockets_by_inode())


def connection_sockets(url: str, before: set[int]) -> list[socket.socket]:
    """Duplicates of the TCP connections to the URL's host and port opened since `before`."""
    parts = urlsplit(url)
    try:
        port = parts.port or (322 if parts.scheme == "rtsps" else 554)
        addresses = {info[4][0] for info in socket.getaddrinfo(
            parts.hostname, port, type=socket.SOCK_STREAM)}
    except (OSError, ValueError):
        return []
    found = []
    for inode, fd in _sockets_by_inode().items():
        if inode not in before:
            sock = _duplicate(fd, inode)
            if sock is not None and _peer_is(sock, addresses, port):
                found.append(sock)
            elif sock is not None:
                sock.close()
    return found


def _sockets_by_inode() -> dict[int, int]:
    """{inode: descriptor} of this process's sockets."""
    found = {}
    try:
        names = os.listdir(_FD_DIR)
    except OSError:
        return found
    for name in names:
        with contextlib.suppress(OSError):
            target = os.readlink(f"{_FD_DIR}/{name}")
            if target.startswith("socket:["):
                found[int(target[8:-1])] = int(name)
    return found


def _duplicate(fd: int, inode: int) -> socket.socket | None:
    """A socket object on a duplicate of fd, if fd still is that socket."""
    try:
        dup = os.dup(fd)
    except OSError:
        return None
    try:
        if os.fstat(dup).st_ino == inode:
            return socket.socket(fileno=dup)
    except OSError:
        pass
    os.close(dup)
    return None


def _peer_is(sock: socket.socket, addresses: set[str], port: int) -> bool:
    """Whether a socket is a TCP connection to one of the addresses on the port."""
    if sock.type != socket.SOCK_STREAM or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return False
    try:
        peer = sock.getpeername()
    except OSError:
        return False
    return peer[1] == port and peer[0] in addresses
