"""What `make demo` says about its disk use is the whole deployment's rate, not one camera's."""

from __future__ import annotations

import pytest

from camerahub.cli.demo_story import hourly_bytes


def test_the_hourly_rate_is_per_camera_rate_times_cameras():
    # 100 cameras indexed 2 segments each of 10 s at 1 Mbit/s (1.25 MB per segment)
    total_bytes, total_ms = 200 * 1_250_000, 200 * 10_000
    assert hourly_bytes(total_bytes, total_ms, 100) == pytest.approx(45e9)
    # the rate does not depend on how many segments were summed, only on cameras
    assert hourly_bytes(total_bytes // 2, total_ms // 2, 100) == pytest.approx(45e9)
    assert hourly_bytes(total_bytes, total_ms, 1) == pytest.approx(0.45e9)
