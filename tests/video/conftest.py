"""Fixtures for the video tests: real H.264 made with PyAV/libx264 and small local servers."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.media import SECONDS
from tests.support.media_server import MediaServer


@pytest.fixture(scope="session")
def h264_ts(h264) -> Path:
    """32 s of H.264 at 15 fps, GOP 15, B-frames on, in MPEG-TS."""
    return h264(SECONDS, bframes=2)


@pytest.fixture(scope="session")
def h264_mp4(h264) -> Path:
    """12 s of the same in MP4 (avcC extradata instead of in-band parameter sets)."""
    return h264(12, container="mp4", bframes=2)


@pytest.fixture
def media_server(h264_ts):
    """A MediaServer serving the 32 s input."""
    with MediaServer(h264_ts) as server:
        yield server
