"""Fixtures shared by every test folder: no cloud, databases, one S3 endpoint, encoded media.

Helpers live in tests/support/ and are imported from there; nothing imports this file.
"""

from __future__ import annotations

import pytest

from tests.support.databases import pg_schema, pg_unreachable
from tests.support.scheduling import make_scheduler, slow_first


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """With `--dist loadscope` (pyproject.toml), spread modules over the xdist workers as
    tests/support/scheduling.py describes; any other --dist keeps xdist's own scheduler."""
    if config.getvalue("dist") == "loadscope":
        return make_scheduler(config, log)
    return None


def pytest_collection_modifyitems(config, items):
    """In xdist workers (whose own --dist is "no"), collect slow units first so that the
    scheduler hands them out first; a run in one process keeps the collection order."""
    if hasattr(config, "workerinput"):
        slow_first(items)


@pytest.fixture(scope="session", autouse=True)
def _no_cloud(tmp_path_factory):
    """No test may reach AWS: dummy credentials, no metadata probing, no real profiles."""
    empty = tmp_path_factory.mktemp("aws") / "none"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        mp.setenv("AWS_CONFIG_FILE", str(empty))
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
            mp.delenv(name, raising=False)
        yield


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """A fresh SQLite database file."""
    return f"sqlite:///{tmp_path / 'camerahub.db'}"


@pytest.fixture(scope="session")
def _pg_unreachable() -> str | None:
    """Asked once per test process: why PostgreSQL cannot be used, or None."""
    return pg_unreachable()


@pytest.fixture
def postgres_url(_pg_unreachable):
    """A PostgreSQL URL on its own fresh schema, dropped afterwards; skipped if unreachable."""
    if _pg_unreachable:
        pytest.skip(_pg_unreachable)
    with pg_schema() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request) -> str:
    """Each test using this runs on SQLite and on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture(scope="session")
def moto_s3(_no_cloud):
    """One moto S3 server on 127.0.0.1 for the test process; tests make their own buckets.

    Tests that take S3 down start a MotoS3 of their own instead.
    """
    from tests.support.s3 import MotoS3  # moto is slow to import: only where S3 is used

    server = MotoS3().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def h264(tmp_path_factory):
    """Factory: `h264(seconds, **options)` is a file encoded once per test process and options
    (see tests.support.media.encode_h264). Shared: copy it before changing it."""
    from tests.support.media import EncodedMedia

    return EncodedMedia(tmp_path_factory.mktemp("h264"))
