"""Helpers for the storage tests: a loopback moto S3 server and real segments."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

import av
import cv2
import numpy as np
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


def encode_h264(path: Path, seconds: float, fps: int = 15, gop: int = 15) -> Path:
    """Encode numbered frames with libx264 into MPEG-TS (input for the segmenter)."""
    with av.open(str(path), "w", format="mpegts") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.options = {"g": str(gop), "keyint_min": str(gop), "sc_threshold": "0",
                          "preset": "ultrafast"}
        for index in range(round(seconds * fps)):
            img = np.zeros((240, 320, 3), np.uint8)
            cv2.putText(img, str(index), (40, 180), cv2.FONT_HERSHEY_SIMPLEX, 2, (255,) * 3, 3)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="bgr24")))
        out.mux(stream.encode(None))
    return path
