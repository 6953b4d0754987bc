"""Errors as JSON {"detail": ...}: our access exceptions, oversize bodies, anything unexpected."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from camerahub.authz.errors import (
    AccessError,
    InvalidRequest,
    NotAuthenticated,
    NotVisible,
    PermissionDenied,
    ReasonRequired,
)

log = logging.getLogger(__name__)
STATUS = {NotAuthenticated: 401, PermissionDenied: 403, NotVisible: 404, ReasonRequired: 400,
          InvalidRequest: 400}


def _access_error(_request: Request, exc: Exception) -> JSONResponse:
    status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 403)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": "internal server error"}, status_code=500)


def install(app: FastAPI) -> None:
    """Register the handlers on app."""
    app.add_exception_handler(AccessError, _access_error)
    app.add_exception_handler(Exception, _unexpected)


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse({"detail": f"request body larger than {limit} bytes"}, status_code=413)


class BodyLimitMiddleware:
    """Refuse bodies over max_bytes (by Content-Length, or by reading at most that much).

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
