"""The browser UI: index at /, assets under /ui/, public, with a strict CSP.

Assets live under their own prefix rather than a catch-all mount at /, so that routes
added after create_app (tests, plugins) are never shadowed by the static files.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

from .access import public

STATIC_DIR = Path(__file__).parent / "static"
# Only our own scripts, styles and API; video from our own URLs (and blob: for MSE).
CSP = ("default-src 'self'; media-src 'self' blob:; img-src 'self' data: blob:; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
HEADERS = {
    b"content-security-policy": CSP.encode(),
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"no-referrer",
    b"cache-control": b"no-cache",
}


class UiFiles(StaticFiles):
    """StaticFiles whose every response carries the UI's security headers."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k not in HEADERS]
                message["headers"] = kept + list(HEADERS.items())
            await send(message)

        await super().__call__(scope, receive, send_with_headers)


ui_router = APIRouter(include_in_schema=False)


@ui_router.get("/")
@public
def index() -> FileResponse:
    """The single page of the web UI."""
    headers = {k.decode(): v.decode() for k, v in HEADERS.items()}
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers=headers)


def mount_ui(app: FastAPI) -> None:
    """Serve the UI: index.html at / and static/ under /ui/."""
    app.include_router(ui_router)
    app.mount("/ui", UiFiles(directory=STATIC_DIR), name="ui")
