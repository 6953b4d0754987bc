"""Real H.264 for tests: encoded with PyAV from OpenCV frames, and cut by the real segmenter."""

from __future__ import annotations

import contextlib
import subprocess
import threading
from datetime import datetime
from pathlib import Path

import av
import cv2
import numpy as np

from camerahub.storage import SpoolItem, SpoolSink
from camerahub.video.errors import StreamEnded
from camerahub.video.segmenter import Segmenter, SegmenterConfig


def encode_h264(path: Path, seconds: float, fps: int = 15, gop: int = 15,
                size: tuple[int, int] = (320, 240), profile: str | None = None) -> Path:
    """Numbered frames encoded with libx264 into MPEG-TS, as a camera's recording would be."""
    width, height = size
    with av.open(str(path), "w", format="mpegts") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"g": str(gop), "keyint_min": str(gop), "sc_threshold": "0",
                          "preset": "ultrafast", **({"profile": profile} if profile else {})}
        for i in range(round(seconds * fps)):
            img = np.zeros((height, width, 3), np.uint8)
            cv2.putText(img, str(i), (40, height * 3 // 4), cv2.FONT_HERSHEY_SIMPLEX, 2,
                        (255,) * 3, 3)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="bgr24")))
        out.mux(stream.encode(None))
    return path


def segments(source: Path, spool: Path, camera: str, site: str, start: datetime,
             seconds: float = 4.0) -> list[SpoolItem]:
    """Cut a file into spool segments whose wall-clock anchor is `start`."""
    made: list[SpoolItem] = []
    seg = Segmenter(camera, site, SpoolSink(spool), made.append,
                    SegmenterConfig(segment_seconds=seconds, drift_threshold_s=None),
                    clock=lambda: start)
    with contextlib.suppress(StreamEnded):  # a file source always ends this way
        seg.record(str(source), threading.Event())
    return made


def ffmpeg_errors(path: Path) -> str:
    """What an independent decoder, the ffmpeg command, reports decoding a whole file to its
    last frame: "" when it is clean (`ffmpeg -v error -i X -f null -`)."""
    done = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-f", "null",
                           "-"], capture_output=True, text=True, timeout=300)
    errors = done.stderr.strip()
    if done.returncode and not errors:
        errors = f"ffmpeg exited with {done.returncode}"
    return errors


encode = encode_h264  # the shorter name the incident tests use
