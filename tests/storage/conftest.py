"""Fixtures for the storage tests: every store variant (moto S3 from tests/conftest.py), real
segments."""

from __future__ import annotations

import pytest

from camerahub.storage import FileStore, S3Store


@pytest.fixture(params=["file", "s3", "s3-locked"])
def store(request, tmp_path):
    """Every SegmentStore variant; the contract tests run against each."""
    if request.param == "file":
        return FileStore(tmp_path / "store")
    moto_s3 = request.getfixturevalue("moto_s3")
    bucket = moto_s3.new_bucket(object_lock=request.param == "s3-locked")
    return S3Store(moto_s3.settings(bucket))


@pytest.fixture(scope="session")
def h264_input(h264):
    """12 s of H.264 at 15 fps, GOP 15, MPEG-TS."""
    return h264(12)
