"""Errors as JSON {"detail": ...}: one table from our error kinds to HTTP, oversize bodies
and JSON text no database can store, an honest Allow on 405, anything unexpected. Routes
raise domain errors (camerahub.errors); only this module knows their status codes.
"""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from camerahub.errors import CamerahubError, ErrorKind

from .auditing import note_error
from .routing import each_route

log = logging.getLogger(__name__)
NO_STORE = {"Cache-Control": "no-store"}
# The one mapping from a domain error's kind to the response: status and extra headers.
RESPONSES: dict[ErrorKind, tuple[int, dict[str, str]]] = {
    ErrorKind.INVALID: (400, {}),
    ErrorKind.UNAUTHENTICATED: (401, {"WWW-Authenticate": "Bearer"}),
    ErrorKind.FORBIDDEN: (403, {}),
    ErrorKind.NOT_FOUND: (404, {}),
    ErrorKind.CONFLICT: (409, {}),
    ErrorKind.TOO_LARGE: (413, {}),
    ErrorKind.CORRUPT: (502, {}),
    ErrorKind.UNAVAILABLE: (503, NO_STORE),  # a passing failure: no cache may keep it
    ErrorKind.INTERNAL: (500, {}),
}


def status_of(kind: ErrorKind | None) -> int:
    """The HTTP status of an outcome of that kind (None: success, 200)."""
    return 200 if kind is None else RESPONSES[kind][0]


def error_response(kind: ErrorKind, message: str) -> JSONResponse:
    """The response for a failure of that kind: {"detail": message} and the table's headers."""
    status, headers = RESPONSES[kind]
    return JSONResponse({"detail": message}, status_code=status, headers=headers or None)


def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    kind = getattr(exc, "kind", ErrorKind.INTERNAL)
    if kind == ErrorKind.INTERNAL:
        return _unexpected(request, exc)  # its message may hold internals: log, do not send
    note_error(request.scope, str(exc))  # the audit entry says why, as the client was told
    return error_response(kind, str(exc))


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": "internal server error"}, status_code=500)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    for route in each_route(request.app.router.routes):
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return sorted(methods)


async def _http_error(request: Request, exc: HTTPException) -> Response:
    """Starlette's own errors (404 no route, 405) as usual, with a complete Allow on 405."""
    if exc.status_code == 405:
        exc.headers = {**(exc.headers or {}), "Allow": ", ".join(_allowed_methods(request))}
    return await http_exception_handler(request, exc)


def install(app: FastAPI) -> None:
    """Register the handlers on app."""
    app.add_exception_handler(CamerahubError, _domain_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


def _too_large(limit: int) -> JSONResponse:
    return error_response(ErrorKind.TOO_LARGE, f"request body larger than {limit} bytes")


def _unstorable_text(messages: list[Message], scope: Scope) -> bool:
    """Does a JSON body hold a lone UTF-16 surrogate escape (\\ud800)?

    JSON allows it and Python decodes it, but it is text no UTF-8 database or response can
    hold: left in, it fails deep inside a service instead of at the edge.
    """
    ctype = dict(scope["headers"]).get(b"content-type", b"").split(b";")[0].strip().lower()
    if ctype and not (ctype == b"application/json" or ctype.endswith(b"+json")):
        return False  # FastAPI parses JSON for these types and for none given
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")
    if b"\\u" not in body:
        return False  # no escapes at all: the common case costs one scan
    try:
        json.dumps(json.loads(body), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    except (ValueError, RecursionError):
        return False  # malformed JSON: FastAPI answers 422 with its own detail
    return False


class BodyLimitMiddleware:
    """Refuse bodies over max_bytes (by Content-Length, or by reading at most that much), and
    JSON bodies whose text cannot be stored (400).

    Bodies here are small forms and JSON, so reading them up front and replaying them costs
    little and gives one clean 413 however the client sends the body.
    """

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await _too_large(self.max_bytes)(scope, receive, send)
            return
        messages = await self._read(receive)
        if messages is None:
            await _too_large(self.max_bytes)(scope, receive, send)
            return
        if _unstorable_text(messages, scope):
            refusal = error_response(ErrorKind.INVALID, "the JSON body holds an unpaired UTF-16 "
                                     "surrogate (\\ud800-\\udfff); send the text as UTF-8")
            await refusal(scope, receive, send)
            return
        await self.app(scope, _replay(messages, receive), send)

    async def _read(self, receive: Receive) -> list[Message] | None:
        """Every body message, or None once the body passes the limit."""
        messages, seen = [], 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return messages
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                return None
            if not message.get("more_body", False):
                return messages


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A receive that hands out the buffered messages, then defers to the real one."""
    pending = list(messages)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay
