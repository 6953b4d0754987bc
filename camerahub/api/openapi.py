"""What the OpenAPI document says beyond the route signatures: one table of error responses,
the media types of footage, and who may call what (security schemes from each route's rule).

Routes state which failures they can return with `responses=responses(kind, ..., ok=...)`;
the status codes and headers come from the one table in api/errors.py, so the document and
the responses cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from camerahub.errors import ErrorKind

from .access import rule_of
from .errors import RESPONSES
from .routing import each_route

Responses = dict[int | str, dict[str, Any]]
DESCRIPTIONS: dict[ErrorKind, str] = {
    ErrorKind.INVALID: "Invalid request: a parameter or the body is malformed or out of "
                       "range (the detail names it), or a required reason is missing",
    ErrorKind.UNAUTHENTICATED: "No valid bearer token, API key or media token",
    ErrorKind.FORBIDDEN: "The caller may not take this action (on this visible camera)",
    ErrorKind.NOT_FOUND: "No such resource, or one the caller may not know exists",
    ErrorKind.CONFLICT: "Not possible in the resource's current state",
    ErrorKind.TOO_LARGE: "Request body larger than the server accepts",
    ErrorKind.CORRUPT: "Stored footage failed its SHA-256 check; nothing is served",
    ErrorKind.UNAVAILABLE: "A camera or the footage store cannot serve this now; retry later",
}
BINARY = {"type": "string", "format": "binary"}


class ErrorOut(BaseModel):
    """Every failure the API returns itself: one human-readable sentence."""

    detail: str


def _error(kind: ErrorKind) -> dict[str, Any]:
    """The documented response of one error kind, with the headers the table adds."""
    _, headers = RESPONSES[kind]
    entry: dict[str, Any] = {"model": ErrorOut, "description": DESCRIPTIONS[kind]}
    if headers:
        entry["headers"] = {name: {"schema": {"type": "string"}} for name in headers}
    return entry


def responses(*kinds: ErrorKind, ok: Responses | None = None) -> Responses:
    """responses= for a route: the error kinds it can return, and its success if not JSON."""
    table: Responses = {RESPONSES[kind][0]: _error(kind) for kind in kinds}
    return {**(ok or {}), **table}


def media(media_type: str, description: str, status: int = 200) -> Responses:
    """A success whose body is media_type (a file or a stream), not JSON."""
    return {status: {"description": description,
                     "content": {media_type: {"schema": BINARY}}}}


LIVE_MP4 = media("video/mp4", "Fragmented MP4 (init segment, then one fragment per frame), "
                              "streamed until the client leaves")
JPEG = media("image/jpeg", "One JPEG frame")
CLIP_MP4 = media("video/mp4", "Fragmented MP4 of the range, streamed as segments are read")
HLS = media("application/vnd.apple.mpegurl", "HLS VOD playlist; segment URLs carry the range")
TS = media("video/mp2t", "One MPEG-TS media segment, verified against its SHA-256")
ZIP = media("application/zip", "Signed evidence bundle")
CSV = media("text/csv", "UTF-8 CSV with BOM; a last line '# EXPORT INCOMPLETE' and an "
                        "aborted transfer mean a failure part way")
METRICS = media("text/plain", "Prometheus text format")
AUDIT_PAGE_OR_CSV: Responses = {200: {"description": "A page of entries (JSON), or with "
                                                     "?format=csv the CSV export",
                                      "content": {"text/csv": {"schema": BINARY}}}}

# --- security: who may call what, from each route's AccessRule ------------------------------

SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer",
               "description": "A token from POST /api/v1/auth/token, or an API key (chk_...)"},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key",
               "description": "An API key (alert sources, monitoring)"},
    "mediaToken": {"type": "apiKey", "in": "query", "name": "access_token",
                   "description": "A media token for this camera (POST .../media-token), "
                                  "for <video> and HLS players that cannot send headers"},
}
ANY_CALLER = [{"bearer": []}, {"apiKey": []}]
CAMERA_CALLER = [*ANY_CALLER, {"mediaToken": []}]


def _security(route: Any) -> list[dict[str, list]]:
    """The credentials a route accepts: none, any, or (camera routes) a media token too."""
    rule = rule_of(route.endpoint)
    if rule.public:
        return []
    return CAMERA_CALLER if rule.camera_param else ANY_CALLER


def _document(app: FastAPI) -> dict[str, Any]:
    """The generated document with security schemes and each operation's requirements."""
    spec = get_openapi(title=app.title, version=app.version, routes=app.routes,
                       description=app.description)
    spec.setdefault("components", {})["securitySchemes"] = SCHEMES
    for route in each_route(app.routes):
        if not getattr(route, "include_in_schema", False):
            continue
        for method in route.methods or ():
            operation = spec["paths"].get(route.path_format, {}).get(method.lower())
            if operation is not None:
                operation["security"] = _security(route)
    return spec


def install(app: FastAPI) -> None:
    """Serve the document built by _document (once, then cached like FastAPI's own)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
