"""Fixtures for the storage tests: loopback-only S3 (moto), FileStore, real segments."""

from __future__ import annotations

import pytest

from camerahub.storage import FileStore, S3Store
from tests.support.media import encode_h264
from tests.support.s3 import MotoS3


@pytest.fixture(scope="session", autouse=True)
def aws_sandbox(tmp_path_factory):
    """Dummy credentials, no metadata probing, no real profiles: nothing leaves loopback."""
    empty = tmp_path_factory.mktemp("aws") / "none"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        mp.setenv("AWS_CONFIG_FILE", str(empty))
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
            mp.delenv(name, raising=False)
        yield


@pytest.fixture(scope="session")
def moto_s3(aws_sandbox):
    """One moto S3 server for the session (tests use their own buckets)."""
    server = MotoS3().start()
    yield server
    server.stop()


@pytest.fixture(params=["file", "s3", "s3-locked"])
def store(request, tmp_path):
    """Every SegmentStore variant; the contract tests run against each."""
    if request.param == "file":
        return FileStore(tmp_path / "store")
    moto_s3 = request.getfixturevalue("moto_s3")
    bucket = moto_s3.new_bucket(object_lock=request.param == "s3-locked")
    return S3Store(moto_s3.settings(bucket))


@pytest.fixture(scope="session")
def h264_input(tmp_path_factory):
    """12 s of H.264 at 15 fps, GOP 15, MPEG-TS."""
    return encode_h264(tmp_path_factory.mktemp("media") / "input.ts", 12)
