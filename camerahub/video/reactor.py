"""A few threads reading every camera's connection: large reads from one selector each.

Measured (docs/recorder-engines.md): reading RTP with FFmpeg in a thread per camera spends
most of its time in small reads, polls and thread switches. Here one thread waits on all
the sockets of its share at once, reads whatever each has (up to READ_SIZE), hands it to
that camera's feed, then pauses for `pause_s` so that the next reads are large again: a
camera's 3 Mbit/s arrives as one read of ~20-40 KB every pass instead of a hundred small
ones. The kernel keeps what arrives meanwhile; the pause is far below any timeout.

Each read carries the kernel's receive time of its latest byte (SO_TIMESTAMPNS, which
Linux gives TCP too): a reading thread that runs late, because it was busy or starved, does
not make the camera's data look late. Several readers (READERS, cameras spread by a hash of
their name) share the cameras, so that what blocks one of them (a segment's fsyncs when it
begins, a keyframe's decode, both outside the interpreter lock) delays only its share.

A feed is one camera's session (camerahub.video.rtprecord): `received(data, rx)` with each
read and its receive time (epoch seconds, or None where the kernel gave none), `tick(now)`
a few times a second (keepalives, receiver reports, read timeout), and
`ended(exc)` once, when the reactor lets it go because its connection closed or failed or
one of its own calls raised. Feeds block as little as they can: a segment's commit (its
fsyncs) and the index are handed back to the camera's own thread; the small fsync of a
segment's begin stays. `remove` lets a feed go from another thread and returns
once the reactor no longer touches it.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import ssl
import struct
import threading
import time
import zlib
from collections import deque
from typing import Protocol

from camerahub.video import tls

log = logging.getLogger(__name__)

READ_SIZE = 256 * 1024
# Each connection's kernel receive buffer: seconds of a camera's stream (about 10 s at
# 3 Mbit/s), so that a reader held up (a busy machine, many cameras starting) is absorbed
# by the kernel, whose receive times stay true, and never pushes back on the camera (which
# would then send late, and late footage looks like lost stream time). The kernel caps it at
# net.core.rmem_max; a buffer already larger is left alone. Memory is taken only while
# data waits.
RECV_BUFFER = 4 << 20
PAUSE_S = 0.05
TICK_S = 0.25
READERS = 4
_SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux; SCM_TIMESTAMPNS is the same
_TIMESPEC = struct.Struct("qq")
_ANCILLARY = socket.CMSG_SPACE(_TIMESPEC.size)


class Feed(Protocol):
    """What the reactor drives: one connection and what to do with its bytes."""

    sock: socket.socket

    def received(self, data: bytes, rx: float | None) -> None:
        """Bytes read from the connection (never empty), and when the kernel received the
        latest of them (epoch seconds; None when it did not say)."""

    def tick(self, now: float) -> None:
        """A few times a second (monotonic now); may raise to end the feed."""

    def ended(self, exc: BaseException | None) -> None:
        """The reactor let the feed go: why (None when removed on request)."""


class Reactor:
    """The reading thread, started with its first feed and ended with its last."""

    def __init__(self, name: str = "rec-reactor", pause_s: float = PAUSE_S,
                 read_size: int = READ_SIZE) -> None:
        self.name, self.pause_s, self.read_size = name, pause_s, read_size
        self._lock = threading.Lock()
        self._commands: deque[tuple[str, Feed, threading.Event | None]] = deque()
        self._thread: threading.Thread | None = None
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)

    def add(self, feed: Feed) -> None:
        """Start reading a feed's connection (from any thread)."""
        feed.sock.setblocking(False)
        with contextlib.suppress(OSError):
            feed.sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
        with contextlib.suppress(OSError):
            if feed.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) < RECV_BUFFER:
                feed.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECV_BUFFER)
        with self._lock:
            self._commands.append(("add", feed, None))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
                _name_native(self._thread)
        self._wake()

    def remove(self, feed: Feed, timeout: float = 10.0) -> None:
        """Stop reading a feed; returns once the reactor no longer touches it."""
        done = threading.Event()
        with self._lock:
            if self._thread is None or self._thread is threading.current_thread():
                return
            self._commands.append(("remove", feed, done))
        self._wake()
        if not done.wait(timeout):
            log.error("reactor did not let a feed go within %.0f s", timeout)

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            self._wake_w.send(b"\0")

    def _run(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self._wake_r, selectors.EVENT_READ, None)
        feeds: dict[Feed, None] = {}
        next_tick = time.monotonic()
        try:
            while True:
                if not self._apply(sel, feeds):
                    return
                for key, _ in sel.select(timeout=TICK_S):
                    if key.data is None:
                        with contextlib.suppress(BlockingIOError, OSError):
                            while self._wake_r.recv(4096):
                                pass
                        continue
                    self._read(sel, feeds, key.data)
                now = time.monotonic()
                if now >= next_tick:
                    next_tick = now + TICK_S
                    for feed in list(feeds):
                        try:
                            feed.tick(now)
                        except BaseException as exc:  # noqa: BLE001 - ends that feed only
                            self._end(sel, feeds, feed, exc)
                if feeds:
                    time.sleep(self.pause_s)
        except BaseException:
            log.exception("reactor failed; ending every feed")
            for feed in list(feeds):
                self._end(sel, feeds, feed, RuntimeError("the reading thread failed"))
            with self._lock:
                self._thread = None
            raise
        finally:
            sel.close()

    def _apply(self, sel: selectors.BaseSelector, feeds: dict[Feed, None]) -> bool:
        """Take queued adds and removes; False when the thread should end (no feeds left)."""
        with self._lock:
            commands = list(self._commands)
            self._commands.clear()
            if not commands and not feeds:
                self._thread = None
                return False
        for verb, feed, done in commands:
            if verb == "add":
                try:
                    sel.register(feed.sock, selectors.EVENT_READ, feed)
                    feeds[feed] = None
                except (OSError, ValueError, KeyError) as exc:
                    with contextlib.suppress(Exception):
                        feed.ended(exc)
            elif feed in feeds:
                self._end(sel, feeds, feed, None)
            if done is not None:
                done.set()
        return True

    def _read(self, sel: selectors.BaseSelector, feeds: dict[Feed, None], feed: Feed) -> None:
        if feed not in feeds:
            return
        try:
            data, rx = receive(feed.sock, self.read_size)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._end(sel, feeds, feed, exc)
            return
        if not data:
            self._end(sel, feeds, feed, EOFError("connection closed by the camera"))
            return
        try:
            feed.received(data, rx)
        except BaseException as exc:  # noqa: BLE001 - ends that feed only
            self._end(sel, feeds, feed, exc)

    @staticmethod
    def _end(sel: selectors.BaseSelector, feeds: dict[Feed, None], feed: Feed,
             exc: BaseException | None) -> None:
        feeds.pop(feed, None)
        with contextlib.suppress(KeyError, ValueError, OSError):
            sel.unregister(feed.sock)
        try:
            feed.ended(exc)
        except Exception:
            log.exception("a feed failed to end")


def receive(sock: socket.socket, size: int, flags: int = 0) -> tuple[bytes, float | None]:
    """One read of up to `size` bytes, and the kernel's receive time of its latest byte
    (epoch seconds; None when the kernel did not say). Raises what recvmsg raises.

    A TLS connection (rtsps://) is read record by record until the kernel holds no more
    (camerahub.video.tls.read_available) and carries no receive time; it is read without
    waiting whatever `flags` say."""
    if isinstance(sock, ssl.SSLSocket):
        if sock.gettimeout() != 0.0:
            sock.setblocking(False)
        return tls.read_available(sock, size), None
    data, ancillary, _, _ = sock.recvmsg(size, _ANCILLARY, flags)
    rx = None
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and \
                len(payload) >= _TIMESPEC.size:
            seconds, nanos = _TIMESPEC.unpack_from(payload)
            rx = seconds + nanos / 1e9
    return data, rx


def _name_native(thread: threading.Thread) -> None:
    """Name the thread at OS level too (top -H, benchmarks), where Linux allows it."""
    with contextlib.suppress(OSError), \
            open(f"/proc/self/task/{thread.native_id}/comm", "w") as comm:
        comm.write(thread.name[:15])


REACTORS = tuple(Reactor(f"rec-reactor-{i}") for i in range(READERS))


def reactor_for(name: str) -> Reactor:
    """The reader that reads this camera (the same one for the same name)."""
    return REACTORS[zlib.crc32(name.encode()) % len(REACTORS)]
