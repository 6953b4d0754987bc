"""A real HTTP S3 endpoint (moto) on loopback, for every suite that stores segments."""

from __future__ import annotations

import base64
import hashlib
import http.client
import http.server
import threading
import uuid

from moto.server import ThreadedMotoServer

from camerahub.storage import S3Settings
from camerahub.storage.s3store import make_client
from tests.support.net import free_port


class MotoS3:
    """A real HTTP S3 endpoint on 127.0.0.1 that can be stopped and started on its port."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.server: ThreadedMotoServer | None = None

    @property
    def endpoint(self) -> str:
        """The endpoint URL for boto3."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoS3:
        """Start serving (moto keeps its buckets in-process across restarts)."""
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()
        return self

    def stop(self) -> None:
        """Stop serving: connections to the port are now refused."""
        if self.server is not None:
            self.server.stop()
            self.server = None

    def settings(self, bucket: str, **overrides) -> S3Settings:
        """Store settings for a bucket here, with short timeouts so outages show fast."""
        values = {"bucket": bucket, "endpoint_url": self.endpoint, "path_style": True,
                  "connect_timeout_s": 1.0, "read_timeout_s": 5.0, "max_attempts": 1}
        return S3Settings(**{**values, **overrides})

    def new_bucket(self, object_lock: bool = False) -> str:
        """Create a uniquely named bucket (optionally with Object Lock)."""
        name = f"seg-{uuid.uuid4().hex[:12]}"
        client = make_client(self.settings(name))
        client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=object_lock)
        return name

    def bucket(self, object_lock: bool = False) -> str:
        """Alias of new_bucket (the recorder suites' name)."""
        return self.new_bucket(object_lock)


class S3Gateway:
    """A real HTTP hop in front of moto that behaves like stores moto does not imitate.

    moto accepts a body that contradicts its `x-amz-checksum-sha256` and honours
    `If-None-Match`; AWS S3 and MinIO refuse the first, older stores ignore the second.
    With `checks_checksums` the gateway answers such a PUT with S3's 400 BadDigest; with
    `ignores_if_none_match` it drops that header before moto sees it. Everything else is
    relayed byte for byte, so the store code under test talks plain S3 over a socket.
    """

    def __init__(self, upstream: MotoS3, checks_checksums: bool = False,
                 ignores_if_none_match: bool = False) -> None:
        self.upstream = upstream
        self.checks_checksums, self.ignores_if_none_match = checks_checksums, ignores_if_none_match
        self.refused: list[str] = []  # paths answered with BadDigest
        gateway = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "connection")}
                declared = self.headers.get("x-amz-checksum-sha256")
                if (self.command == "PUT" and gateway.checks_checksums and declared
                        and base64.b64encode(hashlib.sha256(body).digest()).decode() != declared):
                    gateway.refused.append(self.path)
                    self._answer(400, [("Content-Type", "application/xml")], _BAD_DIGEST)
                    return
                if gateway.ignores_if_none_match:
                    headers = {k: v for k, v in headers.items() if k.lower() != "if-none-match"}
                conn = http.client.HTTPConnection("127.0.0.1", gateway.upstream.port, timeout=30)
                try:
                    conn.request(self.command, self.path, body=body or None, headers=headers)
                    reply = conn.getresponse()
                    payload = reply.read()
                    dropped = {"connection", "transfer-encoding", "server", "date"}
                    if self.command != "HEAD":  # a HEAD's length is the object's
                        dropped.add("content-length")
                    kept = [(k, v) for k, v in reply.getheaders() if k.lower() not in dropped]
                    self._answer(reply.status, kept, payload)
                finally:
                    conn.close()

            def _answer(self, status: int, headers: list, payload: bytes) -> None:
                self.send_response(status)
                for key, value in headers:
                    self.send_header(key, value)
                if self.command != "HEAD":
                    self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        """The gateway's endpoint URL for boto3."""
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def settings(self, bucket: str, **overrides) -> S3Settings:
        """Store settings that reach the bucket through the gateway."""
        return self.upstream.settings(bucket, endpoint_url=self.endpoint, **overrides)

    def __enter__(self) -> S3Gateway:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


_BAD_DIGEST = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>BadDigest</Code>'
               b"<Message>The SHA256 you specified did not match the calculated checksum."
               b"</Message></Error>")
