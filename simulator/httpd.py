"""A small asyncio HTTP/1.1 server: enough for SOAP, snapshots and the control endpoint."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger(__name__)

MAX_BODY = 1 << 20  # 1 MiB: no SOAP request we serve is anywhere near this
MAX_HEADER = 64 << 10
IDLE_TIMEOUT = 60.0  # seconds a keep-alive connection may sit idle


class BadRequest(Exception):
    """The request cannot be parsed; answered with the given status, then closed."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass
class Request:
    """One parsed HTTP request."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes = b""
    peer: tuple | None = None

    @property
    def path(self) -> str:
        """The path without the query."""
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, str]:
        """First value of each query parameter."""
        return {k: v[0] for k, v in parse_qs(urlsplit(self.target).query).items()}


@dataclass
class Response:
    """One HTTP response."""

    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Awaitable[Response]]


def encode_response(resp: Response, keep_alive: bool) -> bytes:
    """Serialize status line, headers and body."""
    try:
        phrase = HTTPStatus(resp.status).phrase
    except ValueError:
        phrase = "Unknown"
    lines = [f"HTTP/1.1 {resp.status} {phrase}", f"Content-Type: {resp.content_type}",
             f"Content-Length: {len(resp.body)}",
             f"Connection: {'keep-alive' if keep_alive else 'close'}"]
    lines += [f"{k}: {v}" for k, v in resp.headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + resp.body


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    """Read one request; None on a clean close between requests."""
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE_TIMEOUT)
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise BadRequest(400, "truncated request") from exc
        return None
    except asyncio.LimitOverrunError as exc:
        raise BadRequest(431, "request header too large") from exc
    request = parse_head(head)
    length = _content_length(request.headers)
    if length > MAX_BODY:
        raise BadRequest(413, "request body too large")
    if length:
        try:
            request.body = await asyncio.wait_for(reader.readexactly(length), IDLE_TIMEOUT)
        except asyncio.IncompleteReadError as exc:
            raise BadRequest(400, "truncated body") from exc
    return request


def parse_head(head: bytes) -> Request:
    """Parse the request line and headers."""
    try:
        text = head.decode("latin-1")
        first, *rest = text.split("\r\n")
        method, target, version = first.split(" ")
    except ValueError as exc:
        raise BadRequest(400, "bad request line") from exc
    if not version.startswith("HTTP/1."):
        raise BadRequest(505, "HTTP version not supported")
    try:
        headers = parse_header_lines(rest)
    except ValueError as exc:
        raise BadRequest(400, "bad header line") from exc
    return Request(method.upper(), target, headers)


def parse_header_lines(lines: list[str]) -> dict[str, str]:
    """`Name: value` lines (HTTP and RTSP alike) by lower-cased name; ValueError if malformed."""
    headers = {}
    for line in lines:
        if line:
            name, sep, value = line.partition(":")
            if not sep:
                raise ValueError(f"header line without a colon: {line[:40]!r}")
            headers[name.strip().lower()] = value.strip()
    return headers


def _content_length(headers: dict[str, str]) -> int:
    """The declared body length; chunked bodies are refused (no SOAP client sends them)."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raise BadRequest(411, "chunked request bodies are not supported")
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError as exc:
        raise BadRequest(400, "bad Content-Length") from exc
    if length < 0:
        raise BadRequest(400, "bad Content-Length")
    return length


async def cancel_all(tasks: set[asyncio.Task]) -> None:
    """Cancel connection tasks and wait for them, so none is left pending at loop close.

    Connection handlers end quietly when cancelled (see `quiet_cancel`): on Python 3.11
    asyncio's stream protocol asks a cancelled handler task for its exception and logs
    a traceback for every open connection at shutdown.
    """
    current = asyncio.current_task()
    pending = [t for t in tasks if t is not current and not t.done()]
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


class HttpServer:
    """Serves one handler on one address; can stop listening and drop its connections."""

    def __init__(self, host: str, port: int, handler: Handler, name: str = "http",
                 tls: ssl.SSLContext | None = None) -> None:
        self.host, self.port, self.handler, self.name = host, port, handler, name
        self.tls = tls  # HTTPS with this context; plain HTTP when None
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task] = set()

    async def start(self) -> None:
        """Start listening (idempotent)."""
        if self._server is None:
            self._server = await asyncio.start_server(
                self._serve, self.host, self.port, limit=MAX_HEADER, reuse_address=True,
                ssl=self.tls)

    @property
    def bound_port(self) -> int | None:
        """The port actually bound (differs from `port` when 0 asked for any free one)."""
        if self._server is None or not self._server.sockets:
            return None
        return self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and abort open connections, as a device that went away would."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        await cancel_all(self._tasks)
        if server is not None:
            await server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answer requests on one connection until it closes or asks to."""
        self._writers.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        peer = writer.get_extra_info("peername")
        try:
            while True:
                try:
                    request = await read_request(reader)
                except BadRequest as exc:
                    body = f"{exc}\n".encode()
                    writer.write(encode_response(Response(exc.status, body), False))
                    await writer.drain()
                    break
                if request is None:
                    break
                request.peer = peer
                keep = request.headers.get("connection", "").lower() != "close"
                writer.write(encode_response(await self._dispatch(request), keep))
                await writer.drain()
                if not keep:
                    break
        except (ConnectionError, TimeoutError, asyncio.CancelledError):
            pass  # a cancelled connection is shutdown: end normally (see cancel_all)
        finally:
            self._writers.discard(writer)
            self._tasks.discard(task)
            writer.close()

    async def _dispatch(self, request: Request) -> Response:
        """Call the handler; an unexpected error is a 500, never a dead server."""
        try:
            return await self.handler(request)
        except Exception:
            log.exception("%s %s:%s: handler failed on %s %s", self.name, self.host,
                          self.port, request.method, request.target)
            return Response(500, b"internal error\n")
