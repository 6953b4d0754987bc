"""`camerahub discover` as ops run it: a subprocess with a config file and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import yaml
from sqlalchemy import select

from camerahub.db import models as m
from camerahub.discovery import DiscoveryService
from tests.support.discovery import FACILITY_PREFIX, HQ_PREFIX

REQUIRED = {"address", "endpoint", "manufacturer", "model", "firmware", "serial", "mac",
            "profiles", "snapshot_uri", "clock_offset_s", "camera_id", "findings"}
PROFILE_KEYS = {"token", "width", "height", "fps", "codec", "stream_uri"}


def camerahub(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the CLI; the test's environment carries the camera password."""
    env = {**os.environ, "CAMERAHUB_LOG_LEVEL": "WARNING"}
    return subprocess.run([sys.executable, "-m", "camerahub.cli", *args], capture_output=True,
                          text=True, timeout=timeout, env=env)


def test_json_lists_every_facility_camera(deploy, sim100):
    dep = deploy()
    out = camerahub("discover", "--json", "--config", str(dep.path),
                    "--targets", f"{FACILITY_PREFIX}1-{FACILITY_PREFIX}45")
    assert out.returncode == 0, out.stderr
    devices = json.loads(out.stdout)
    assert len(devices) == 45
    for d in devices:
        assert set(d) >= REQUIRED
        assert d["camera_id"] and d["endpoint"].startswith("urn:uuid:") and d["findings"] == []
        assert [p["token"] for p in d["profiles"]] == ["main", "sub"]
        assert all(set(p) >= PROFILE_KEYS and p["stream_uri"] for p in d["profiles"])


def test_register_prints_unconfigured_cameras_as_yaml(deploy, sim100):
    dep = deploy()
    unlisted = [c for c in dep.config.cameras if c.site == "hq"][-3:]
    small = deploy("small", drop={c.id for c in unlisted})
    out = camerahub("discover", "--register", "--config", str(small.path),
                    "--targets", f"{HQ_PREFIX}50-{HQ_PREFIX}55")
    assert out.returncode == 0, out.stderr
    snippet = yaml.safe_load(out.stdout)
    entries = snippet["cameras"]
    assert sorted(e["address"] for e in entries) == sorted(c.address for c in unlisted)
    for e in entries:
        assert e["room"].startswith("CHANGE-ME") and e["serial"].startswith("CHS")
        assert e["port"] == sim100.http_port
    assert "CHANGE-ME" in out.stdout.split("cameras:")[0]  # the review note comes first
    with small.sessions() as session:  # the inventory itself is left alone
        assert len(session.scalars(select(m.Camera)).all()) == 97


@pytest.mark.parametrize(("args", "reason"), [
    (["--targets", f"{FACILITY_PREFIX}9-{FACILITY_PREFIX}1"], "ends before it starts"),
    (["--targets", "127.0.0.0/8"], "limit"),
    (["--targets", "not-an-address"], "not an IPv4 address"),
    (["--targets", "239.255.255.250"], "not a unicast"),
    (["--interface", "no-such-if0"], "no-such-if0"),
    (["--timeout", "0"], "--timeout"),
])
def test_invalid_input_exits_2_with_one_line(tmp_path, args, reason):
    out = camerahub("discover", "--config", str(tmp_path / "absent.yaml"), *args)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and reason in lines[0] and lines[0].startswith("camerahub: ")


def test_table_uses_each_sites_own_settings(deploy):
    dep = deploy()
    out = camerahub("discover", "--config", str(dep.path))
    assert out.returncode == 0, out.stderr
    rows = [line for line in out.stdout.splitlines()[2:] if line.strip()]
    assert len(rows) == 100
    assert "100 devices (100 online)" in out.stderr


def test_periodic_service_keeps_state_and_stops(deploy, sim100, healthy):
    dep = deploy(interval_s=10)
    offline = [c for c in dep.config.cameras if c.site == "hq"][0]
    sim100.fault(offline.address, offline=True)
    healthy.append(offline.address)
    service = DiscoveryService(dep.config, dep.sessions, probe_timeout=3.0, device_timeout=20)
    service.start()
    try:
        assert service.running
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with dep.sessions() as session:
                states = {s.camera_id: s for s in session.scalars(select(m.CameraState))}
            if sum(1 for s in states.values() if s.status != "unknown") == 100:
                break
            time.sleep(0.2)
    finally:
        service.stop()
        service.close()
    assert not service.running
    assert states[offline.id].status == "offline" and states[offline.id].last_seen is None
    online = [s for s in states.values() if s.status == "online"]
    assert len(online) == 99 and all(s.last_seen for s in online)
