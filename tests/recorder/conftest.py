"""Fixtures for recorder tests: simulated cameras and a deployed inventory (S3 is the shared
moto_s3 of tests/conftest.py)."""

from __future__ import annotations

import pytest
import yaml

from camerahub.config import parse_config, resolve_runtime
from camerahub.db.engine import inventory_write, open_database
from camerahub.deploy import apply_plan, plan_changes
from tests.support.simulators import simulator_fixture

SUBNET = 61  # 127.W.61.x / 127.W.62.x: this folder's own cameras (67: test_background)

# Two simulated cameras (one HQ, one facility) on 127.W.61.1 / 127.W.62.1
cams = simulator_fixture(SUBNET, cameras=2, hq=1)


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
