"""A small local HTTP server that serves a media file, asks for credentials, or stalls."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path


class MediaServer:
    """HTTP on 127.0.0.1 that serves a file, asks for credentials, or stalls mid-body."""

    def __init__(self, media: Path) -> None:
        self.media = media.read_bytes()
        self.release = threading.Event()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        """URL of one of the behaviours: /ok.ts, /auth.ts, /stall.ts, /missing.ts."""
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
        if req.path not in ("/ok.ts", "/stall.ts"):
            req.send_error(404)
            return
        req.send_response(200)
        req.send_header("Content-Type", "video/mp2t")
        req.send_header("Content-Length", str(len(self.media)))
        req.end_headers()
        self._body(req, stall=req.path == "/stall.ts")

    def _body(self, req, stall: bool) -> None:
        """Send the file; the stalling variant sends a third and then goes quiet."""
        cut = len(self.media) // 3 // 188 * 188 if stall else len(self.media)
        try:
            req.wfile.write(self.media[:cut])
            req.wfile.flush()
            if stall:
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
