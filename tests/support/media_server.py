"""A small local HTTP server that serves a media file, asks for credentials, or stalls."""

from __future__ import annotations

import http.server
import re
import threading
from pathlib import Path

STALL = re.compile(r"/stall(?:-(\d{1,2}))?\.ts")


class MediaServer:
    """HTTP on 127.0.0.1 that serves a file, asks for credentials, or stalls mid-body."""

    def __init__(self, media: Path) -> None:
        self.media = media.read_bytes()
        self.release = threading.Event()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        """URL of one of the behaviours: /ok.ts, /auth.ts, /stall.ts (a third, then
        silence), /stall-N.ts (N % of the file, then silence), /missing.ts."""
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def _handler(self):
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_GET(self):
                server.respond(self)

        return Handler

    def respond(self, req) -> None:
        """Serve one request according to its path."""
        if req.path == "/auth.ts":
            req.send_response(401)
            req.send_header("WWW-Authenticate", 'Basic realm="cam"')
            req.send_header("Content-Length", "0")
            req.end_headers()
            return
        stall = STALL.fullmatch(req.path)
        if req.path != "/ok.ts" and stall is None:
            req.send_error(404)
            return
        req.send_response(200)
        req.send_header("Content-Type", "video/mp2t")
        req.send_header("Content-Length", str(len(self.media)))
        req.end_headers()
        self._body(req, int(stall.group(1) or 33) if stall else None)

    def _body(self, req, stall_percent: int | None) -> None:
        """Send the file; the stalling variants send a part (a third by default), then go
        quiet."""
        size = len(self.media)
        cut = size if stall_percent is None else size * stall_percent // 100 // 188 * 188
        try:
            req.wfile.write(self.media[:cut])
            req.wfile.flush()
            if stall_percent is not None:
                self.release.wait(60)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def __enter__(self) -> MediaServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
