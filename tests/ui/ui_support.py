"""Constants of the UI tests and their real recorded footage (libx264 cut by the segmenter)."""

from __future__ import annotations

import contextlib
import threading
from datetime import UTC, datetime
from pathlib import Path

import av
import cv2
import numpy as np

from camerahub.video.errors import StreamEnded
from camerahub.video.segmenter import Segmenter, SegmenterConfig, SegmentInfo

SIZE = (640, 360)
RECORDED_CAMERA = "hq-1f-koseki-01"
T0 = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)  # 10:00 in Tokyo
RECORDED_SECONDS = 12
# The live grid shows cameras in list order: the first four are the simulated ones.
LIVE_CAMERAS = {"hq-1f-jumin-01": "hq-001", "hq-1f-jumin-02": "hq-002",
                "hq-1f-jumin-03": "hq-003", "hq-1f-jumin-04": "hq-004"}


def encode(path: Path, seconds: float, fps: int = 15) -> Path:
    """Numbered frames as H.264 (1 s GOPs) in MPEG-TS, as a camera's recording would be."""
    width, height = SIZE
    with av.open(str(path), "w", format="mpegts") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"g": str(fps), "keyint_min": str(fps), "sc_threshold": "0",
                          "preset": "ultrafast", "profile": "baseline"}
        for i in range(round(seconds * fps)):
            img = np.full((height, width, 3), (60, 40, 20), np.uint8)
            cv2.putText(img, f"{i // fps:02d}s {i % fps:02d}", (40, 200),
                        cv2.FONT_HERSHEY_SIMPLEX, 3, (255, 255, 255), 6)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="bgr24")))
        out.mux(stream.encode(None))
    return path


def cut(source: Path, spool: Path, camera: str, site: str, start: datetime,
        seconds: float = 4.0) -> list[SegmentInfo]:
    """Spool segments of a file, anchored at the wall-clock time start."""
    made: list[SegmentInfo] = []
    seg = Segmenter(camera, site, spool, made.append,
                    SegmenterConfig(segment_seconds=seconds, drift_threshold_s=None),
                    clock=lambda: start)
    with contextlib.suppress(StreamEnded):  # a file source always ends this way
        seg.record(str(source), threading.Event())
    return made
