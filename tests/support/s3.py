"""A real HTTP S3 endpoint (moto) on loopback, for every suite that stores segments."""

from __future__ import annotations

import socket
import uuid

from moto.server import ThreadedMotoServer

from camerahub.storage import S3Settings
from camerahub.storage.s3store import make_client


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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

