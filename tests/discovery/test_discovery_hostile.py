"""Discovery of a camera that answers garbage: a typed finding naming the operation and
why, never "internal error" with a traceback; the healthy camera next to it stays clean.

cam-a is the simulator's hq-001 behind tests.support.hostile_onvif on its own address, cam-b
is fac-001 (127.W.205.x / 127.W.206.x).
"""

from __future__ import annotations

import logging

import pytest
import yaml

from camerahub.config import parse_config
from camerahub.db import models as m
from camerahub.db.engine import inventory_write, open_database
from camerahub.deploy import apply_plan, plan_changes
from camerahub.discovery import DiscoveryService
from tests.support.hostile_onvif import HostileOnvif
from tests.support.recorder import deployment
from tests.support.simulators import simulator_fixture

SUBNET = 205
FIRST = "GetSystemDateAndTime"
OPERATIONS = (FIRST, "GetDeviceInformation", "GetNetworkInterfaces", "GetCapabilities",
              "GetProfiles", "GetStreamUri", "GetSnapshotUri")

sim = simulator_fixture(SUBNET, cameras=2, hq=1)


@pytest.fixture(scope="module")
def hostile(sim):
    with HostileOnvif(sim.device_url("hq-001")) as cam:
        yield cam


@pytest.fixture
def service(sim, hostile, tmp_path, monkeypatch):
    """Discovery over cam-a (hostile front) and cam-b (healthy), inventory applied."""
    monkeypatch.setenv("CAMERAHUB_CAMERA_PASSWORD", "admin")
    data = deployment(sim, {"backend": "file", "file": {"path": str(tmp_path / "store")}},
                      tmp_path)
    data["cameras"][0]["port"] = hostile.port
    cfg = parse_config(yaml.safe_dump(data, allow_unicode=True), "test.yaml")
    _, sessions = open_database(f"sqlite:///{tmp_path / 'discovery.db'}")
    with inventory_write(sessions) as session:
        apply_plan(session, plan_changes(session, cfg), "x", "test")
    svc = DiscoveryService(cfg, sessions, probe_timeout=1.0, device_timeout=5,
                           check_drift=False)
    yield svc
    svc.close()
    hostile.heal()


def _texts(result) -> list[str]:
    error = result.sighting.error if result.sighting else None
    return [f.message for f in result.findings] + ([error.reason] if error else [])


@pytest.mark.parametrize("mode", ["empty_body", "truncated", "huge_numbers", "wrong_answer",
                                  "long_text"])
@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_bad_answer_is_a_typed_finding(service, hostile, caplog, operation, mode):
    hostile.corrupt(operation, mode)
    with caplog.at_level(logging.WARNING):
        run = service.run_once()
    results = {r.camera_id: r for r in run.results}
    bad, good = results["cam-a"], results["cam-b"]
    assert (good.status, good.findings) == ("online", [])
    assert hostile.corrupted[operation] >= 1
    assert not any("internal error" in t for t in _texts(bad))
    assert "Traceback" not in caplog.text
    kinds = sorted(f.kind for f in bad.findings)
    if operation == FIRST and mode == "truncated":  # the very first answer is not XML
        assert (bad.status, kinds) == ("error", ["not_onvif"])
    else:
        assert bad.status == "online"
        if operation in bad.report.missing:
            [finding] = [f for f in bad.findings if f.kind == "malformed"]
            assert f"{operation}: " in finding.message
    with service.sessions() as session:
        state = session.get(m.CameraState, "cam-a")
        assert (state.status, sorted(f["kind"] for f in state.findings)) == (bad.status, kinds)


@pytest.mark.parametrize("operation", ["GetDeviceInformation", "GetProfiles"])
def test_an_endless_answer_is_an_unreachable_finding(service, hostile, operation):
    hostile.corrupt(operation, "endless")
    run = service.run_once()
    bad = next(r for r in run.results if r.camera_id == "cam-a")
    assert bad.status == "offline"
    assert any(f"{operation}: timed out" in t for t in _texts(bad)), _texts(bad)
