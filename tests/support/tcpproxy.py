"""A TCP proxy of the tests' own on 127.0.0.1 that can cut the line and restore it.

An outage behind it is a network outage, not a server restart: the server behind (moto, a
database) keeps everything it holds. `cut()` closes every relayed connection and refuses
new ones (the listening socket is closed, so connecting is refused at once); `restore()`
listens again on the same port.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading

from tests.support.net import free_port


class TcpProxy:
    """Relay 127.0.0.1:port to 127.0.0.1:upstream_port until stopped; cut() and restore()."""

    def __init__(self, upstream_port: int, port: int | None = None) -> None:
        self.upstream_port = upstream_port
        self.port = port or free_port()
        self.cuts = 0
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._accepting: threading.Thread | None = None
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._stopped = threading.Event()

    @property
    def endpoint(self) -> str:
        """An http:// URL of the proxy (for S3 clients)."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> TcpProxy:
        """Listen and relay."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        with self._lock:
            self._listener = listener
        self._accepting = threading.Thread(target=self._accept, args=(listener,),
                                           name="tcpproxy-accept", daemon=True)
        self._accepting.start()
        return self

    def cut(self) -> None:
        """Drop every connection and refuse new ones until restore()."""
        with self._lock:
            listener, self._listener = self._listener, None
            pairs, self._pairs = self._pairs, set()
            self.cuts += 1
        if listener is not None:
            _close(listener)
        if self._accepting is not None:
            self._accepting.join(10)
        for a, b in pairs:
            _close(a)
            _close(b)

    def restore(self) -> None:
        """Listen again on the same port."""
        self.start()

    def stop(self) -> None:
        """Cut for good."""
        self._stopped.set()
        self.cut()

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by cut()
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), 10)
            except OSError:
                _close(client)
                continue
            with self._lock:
                if self._listener is not listener:  # cut meanwhile
                    _close(client)
                    _close(upstream)
                    return
                self._pairs.add((client, upstream))
            threading.Thread(target=self._relay, args=(client, upstream),
                             name="tcpproxy-relay", daemon=True).start()

    def _relay(self, client: socket.socket, upstream: socket.socket) -> None:
        """Copy bytes both ways until either side closes (or cut() closes both)."""
        peer = {client: upstream, upstream: client}
        with selectors.DefaultSelector() as sel:
            for sock in peer:
                sock.setblocking(True)
                sel.register(sock, selectors.EVENT_READ)
            try:
                while True:
                    for key, _ in sel.select(timeout=1.0):
                        data = key.fileobj.recv(65536)
                        if not data:
                            return
                        peer[key.fileobj].sendall(data)
                    with self._lock:
                        if (client, upstream) not in self._pairs:
                            return
            except (OSError, ValueError):
                return
            finally:
                with self._lock:
                    self._pairs.discard((client, upstream))
                _close(client)
                _close(upstream)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
