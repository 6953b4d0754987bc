"""Fixtures for recorder tests: simulated cameras, a moto S3 endpoint, a deployed inventory."""

from __future__ import annotations

import pytest
import yaml
from rec_support import SUBNET

from camerahub.config import parse_config, resolve_runtime
from camerahub.db.engine import inventory_write, open_database
from camerahub.deploy import apply_plan, plan_changes
from simulator.testing import running_simulator
from tests.support.s3 import MotoS3


@pytest.fixture(scope="session")
def moto():
    server = MotoS3().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def cams():
    """Two simulated cameras (one HQ, one facility) on 127.0.61.1 / 127.0.62.1."""
    with running_simulator(cameras=2, hq=1, subnet=SUBNET) as sim:
        yield sim


@pytest.fixture
def make_env(sqlite_url, tmp_path, monkeypatch):
    """Factory: (config, runtime, sessions) for a deployment dict, inventory applied."""
    monkeypatch.setenv("CAMERAHUB_CAMERA_PASSWORD", "admin")

    def build(data: dict):
        cfg = parse_config(yaml.safe_dump(data, allow_unicode=True), "test.yaml")
        runtime = resolve_runtime(cfg, tmp_path / "test.yaml")
        runtime = type(runtime)(runtime.config_path, runtime.data_dir, sqlite_url)
        _, sessions = open_database(sqlite_url)
        with inventory_write(sessions) as s:
            apply_plan(s, plan_changes(s, cfg), "x", "test")
        return cfg, runtime, sessions
    return build
