"""Constants of the UI tests: the cameras they show and their recorded footage."""

from __future__ import annotations

from datetime import UTC, datetime

SIZE = (640, 360)  # recorded footage: H.264 with 1 s GOPs, baseline profile
RECORDED_CAMERA = "hq-1f-koseki-01"
T0 = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)  # 10:00 in Tokyo
RECORDED_SECONDS = 12
# The live grid shows cameras in list order: the first four are the simulated ones.
LIVE_CAMERAS = {"hq-1f-jumin-01": "hq-001", "hq-1f-jumin-02": "hq-002",
                "hq-1f-jumin-03": "hq-003", "hq-1f-jumin-04": "hq-004"}
