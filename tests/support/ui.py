"""Constants of the UI tests and their real recorded footage (libx264 cut by the segmenter)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from tests.support.media import encode_h264, segments

SIZE = (640, 360)
RECORDED_CAMERA = "hq-1f-koseki-01"
T0 = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)  # 10:00 in Tokyo
RECORDED_SECONDS = 12
# The live grid shows cameras in list order: the first four are the simulated ones.
LIVE_CAMERAS = {"hq-1f-jumin-01": "hq-001", "hq-1f-jumin-02": "hq-002",
                "hq-1f-jumin-03": "hq-003", "hq-1f-jumin-04": "hq-004"}


def encode(path: Path, seconds: float, fps: int = 15) -> Path:
    """H.264 (1 s GOPs, baseline) at the UI's size, as a camera's recording would be."""
    return encode_h264(path, seconds, fps, gop=fps, size=SIZE, profile="baseline")


cut = segments  # spool segments of a file, anchored at a wall-clock time
