"""Fixtures of the reliability suite: a fleet of small, low-bitrate simulated cameras and a
deployed inventory for them (each test starts the recorder it breaks)."""

from __future__ import annotations

import pytest
import yaml

from camerahub.config import parse_config, resolve_runtime
from camerahub.db.engine import inventory_write, open_database
from camerahub.deploy import apply_plan, plan_changes
from camerahub.recorder import RecorderOptions
from camerahub.storage import RetryPolicy
from camerahub.video.segmenter import Backoff
from tests.support.simulators import ProcessFleet, simulator_process

SUBNET = 241  # 127.W.241.x / 127.W.242.x: this folder's fleet (231: test_many_services)

# Short segments and timeouts so that faults show within seconds; retries capped at 2 s.
FAST = RecorderOptions(segment_seconds=4, read_timeout_s=4, upload_workers=2,
                       backoff=Backoff(initial_s=0.5, max_s=2), retry=RetryPolicy(max_s=2))

# Ten cameras at 640x360 (the simulator's light picture): cheap to serve, record and decode.
# They run in a camerahub-sim process of their own, as real cameras are devices of their own:
# in the test's process they shared its interpreter with the recorder under test, and a
# held-up test worker held them up too (every camera skipped 2.5 s at once in a CI run).
@pytest.fixture
def fleet_sim():
    with simulator_process("--cameras", "10", "--hq", "5", "--main-size", "640x360",
                           subnet=SUBNET) as sim:
        yield ProcessFleet(sim)


@pytest.fixture
def make_env(tmp_path, monkeypatch):
    """Factory: (config, runtime, sessions) for a deployment dict and a database URL."""
    monkeypatch.setenv("CAMERAHUB_CAMERA_PASSWORD", "admin")

    def build(data: dict, url: str | None = None):
        url = url or f"sqlite:///{tmp_path / 'camerahub.db'}"
        cfg = parse_config(yaml.safe_dump(data, allow_unicode=True), "test.yaml")
        runtime = resolve_runtime(cfg, tmp_path / "test.yaml")
        runtime = type(runtime)(runtime.config_path, runtime.data_dir, url)
        _, sessions = open_database(url)
        with inventory_write(sessions) as s:
            apply_plan(s, plan_changes(s, cfg), "x", "test")
        return cfg, runtime, sessions
    return build
