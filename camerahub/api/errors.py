"""Errors as JSON {"detail": ...}: our access exceptions, oversize bodies, anything unexpected."""

from __future__ import annotations

import logging

from fastapi import FastAPI, HTTPException, Request
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


class BodyTooLarge(HTTPException):
    """The request body exceeds the configured limit."""

    def __init__(self, limit: int):
        super().__init__(413, f"request body larger than {limit} bytes")


class BodyLimitMiddleware:
    """Refuse bodies over max_bytes, by Content-Length up front or while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            response = JSONResponse({"detail": f"request body larger than {self.max_bytes} "
                                     "bytes"}, status_code=413)
            await response(scope, receive, send)
            return
        await self.app(scope, self._limited(receive), send)

    def _limited(self, receive: Receive) -> Receive:
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise BodyTooLarge(self.max_bytes)  # handled inside FastAPI as a 413
            return message

        return limited
