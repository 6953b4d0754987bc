"""Fixtures for the video tests: real H.264 made with PyAV/libx264 and small local servers."""

from __future__ import annotations

from pathlib import Path

import pytest
from video_media import SECONDS, MediaServer, encode_h264


@pytest.fixture(scope="session")
def h264_ts(tmp_path_factory) -> Path:
    """32 s of H.264 at 15 fps, GOP 15, in MPEG-TS."""
    return encode_h264(tmp_path_factory.mktemp("media") / "input.ts", SECONDS, "mpegts")


@pytest.fixture(scope="session")
def h264_mp4(tmp_path_factory) -> Path:
    """12 s of the same in MP4 (avcC extradata instead of in-band parameter sets)."""
    return encode_h264(tmp_path_factory.mktemp("media") / "input.mp4", 12, "mp4")


@pytest.fixture
def media_server(h264_ts):
    """A MediaServer serving the 32 s input."""
    with MediaServer(h264_ts) as server:
        yield server
