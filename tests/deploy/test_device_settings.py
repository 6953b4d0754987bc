"""Device settings against a small in-process simulator: the stream really changes, failing
cameras are reported while the rest proceed, bad settings fail early, hand-made changes
show up as drift."""

from __future__ import annotations

import json
import shutil
import subprocess

import av
import pytest
import yaml
from sqlalchemy import select

from camerahub.config import load_config
from camerahub.db import models as m
from camerahub.db.engine import open_database
from camerahub.discovery import DiscoveryService
from tests.support.devices import CAMERA_PASSWORD, by_camera, devices_json, small_deployment
from tests.support.simulators import simulator_fixture

SUBNET = 93  # 127.W.93.x (HQ) / 127.W.94.x
GLOBAL = {"defaults": {"encoders": {"sub": {"gop": 20, "bitrate_kbps": 256}},
                       "ntp": ["ntp.cctv.test.invalid", "127.0.0.123"], "timezone": "JST-9",
                       "hostname": "{site}-{id}", "name": "{site} {name}"}}


# Four cameras with a non-default password (it must never be printed)
sim = simulator_fixture(SUBNET, cameras=4, hq=4, username="admin", password=CAMERA_PASSWORD)


@pytest.fixture
def healthy(sim):
    """Every camera healthy again after the test."""
    yield sim
    for cam in sim.cameras:
        sim.clear_faults(cam.camera_id)


def test_encoder_change_changes_the_rtsp_stream(healthy, cli, tmp_path):
    sim = healthy
    cam_device = {"encoders": {"main": {"resolution": "640x360", "gop": 10, "fps": 10,
                                        "h264_profile": "High"}}}
    path = small_deployment(sim, tmp_path / "d.yaml", GLOBAL, camera_device=cam_device)
    code, out, err = cli("deploy", "apply", "-f", path, "--devices", "--only", "cam-1")
    assert code == 0, err
    assert "= device cam-1" in out and "restarts main, sub stream" in out
    assert "recorder reconnects and records a gap" in out and "no rollback" in out
    assert CAMERA_PASSWORD not in out + err
    sim.wait_streams("hq-001", timeout=120)
    url = sim.rtsp_url("hq-001", "main")
    assert _ffprobe_size(url) == (640, 360)
    keyframes = _keyframe_positions(url, frames=31)
    assert keyframes[:4] == [0, 10, 20, 30]


def _ffprobe_size(url: str) -> tuple[int, int]:
    """Width and height of the first video stream, as ffprobe sees it."""
    ffprobe = shutil.which("ffprobe") or "/usr/bin/ffprobe"
    result = subprocess.run(
        [ffprobe, "-v", "error", "-rtsp_transport", "tcp", "-select_streams", "v:0",
         "-show_entries", "stream=width,height", "-of", "json", url],
        capture_output=True, text=True, timeout=60, check=True)
    stream = json.loads(result.stdout)["streams"][0]
    return stream["width"], stream["height"]


def _keyframe_positions(url: str, frames: int) -> list[int]:
    """Indices of keyframes among the first `frames` packets (PyAV)."""
    with av.open(url, options={"rtsp_transport": "tcp"}, timeout=30) as container:
        stream = container.streams.video[0]
        flags = []
        for packet in container.demux(stream):
            if packet.size:
                flags.append(packet.is_keyframe)
            if len(flags) >= frames:
                break
    return [i for i, key in enumerate(flags) if key]


def test_failing_cameras_are_reported_and_the_rest_proceed(healthy, cli, tmp_path):
    sim = healthy
    path = small_deployment(sim, tmp_path / "d.yaml", GLOBAL)
    sim.set_faults("hq-002", reject_auth=True)
    sim.set_faults("hq-003", offline=True)
    code, out, err = cli("deploy", "apply", "-f", path, "--devices", "--json",
                         "--device-timeout", "10")
    assert code == 1
    outcomes = by_camera(devices_json(out))
    assert outcomes["cam-2"]["status"] == "failed"
    assert outcomes["cam-2"]["error"]["kind"] == "unauthorized"
    assert outcomes["cam-3"]["status"] == "failed"
    assert outcomes["cam-3"]["error"]["kind"] == "unreachable"
    assert {outcomes[c]["status"] for c in ("cam-1", "cam-4")} <= {"applied", "unchanged"}
    assert sim.camera("hq-004").hostname == "hq-cam-4"
    assert sim.camera("hq-004").name == "hq カメラ4"  # set as the ONVIF name scope
    assert CAMERA_PASSWORD not in out + err
    # healed: a re-run touches only the two that still differ
    sim.clear_faults("hq-002")
    sim.clear_faults("hq-003")
    code, out, err = cli("deploy", "apply", "-f", path, "--devices", "--json")
    assert code == 0, err
    outcomes = by_camera(devices_json(out))
    assert outcomes["cam-2"]["status"] == outcomes["cam-3"]["status"] == "applied"
    assert outcomes["cam-1"]["status"] == outcomes["cam-4"]["status"] == "unchanged"


def test_unsupported_resolution_fails_at_plan_naming_the_options(sim, cli, tmp_path):
    devices = {"defaults": {"encoders": {"main": {"resolution": "1600x900"}}}}
    path = small_deployment(sim, tmp_path / "d.yaml", devices)
    code, out, _ = cli("deploy", "plan", "-f", path, "--devices")
    assert code == 2
    assert ("! device cam-1  invalid (invalid): main.resolution 1600x900 is not offered; "
            "offered: 1920x1080, 1280x720, 640x360") in out
    code, out, _ = cli("deploy", "apply", "-f", path, "--devices", "--json")
    assert code == 2 and devices_json(out)["summary"]["invalid"] == 4
    assert sim.camera("hq-001").profiles["main"].width != 1600


@pytest.mark.parametrize(("devices", "path", "message"), [
    ({"defaults": {"encoders": {"main": {"fps": "fast"}}}},
     "devices.defaults.encoders.main.fps", "integer"),
    ({"defaults": {"encoders": {"main": {"resolution": "big"}}}},
     "devices.defaults.encoders.main.resolution", "pattern"),
    ({"defaults": {"encoders": {"main": {"framerate": 10}}}},
     "devices.defaults.encoders.main.framerate", "unknown key"),
    ({"defaults": {"hostname": "cam_{id}"}}, "devices.defaults.hostname", "RFC 1123"),
    ({"defaults": {"hostname": "{room}"}}, "devices.defaults.hostname", "placeholders"),
    ({"defaults": {"timezone": "Asia/Tokyo"}}, "devices.defaults.timezone", "pattern"),
    ({"defaults": {"name": "{floor}"}}, "devices.defaults.name", "placeholders"),
    ({"sites": {"nowhere": {"timezone": "JST-9"}}}, "devices.sites.nowhere", "unknown site"),
])
def test_malformed_device_settings_fail_with_path_and_line(sim, cli, tmp_path, devices, path,
                                                           message):
    file = small_deployment(sim, tmp_path / "d.yaml", devices)
    code, _out, err = cli("deploy", "plan", "-f", file, "--devices")
    assert code == 2
    line = next(ln for ln in err.splitlines() if path in ln)
    assert f"{file}:" in line and message in line
    assert line.split(":")[1].isdigit()  # file:LINE: path: message


def test_unknown_only_camera_is_invalid_input(sim, cli, tmp_path):
    path = small_deployment(sim, tmp_path / "d.yaml", GLOBAL)
    code, _out, err = cli("deploy", "plan", "-f", path, "--devices", "--only", "cam-9")
    assert code == 2 and "cam-9" in err


@pytest.mark.parametrize("bad", ["only", "ca_file"])
def test_a_bad_device_input_leaves_the_inventory_as_it_was(sim, cli, tmp_path, sqlite_url,
                                                           bad):
    """--only naming no camera, or a cameras' CA file (ONVIF over HTTPS) that cannot be read:
    refused before the inventory is touched, not after it was changed (a deploy is whole)."""
    path = small_deployment(sim, tmp_path / "d.yaml", GLOBAL)
    assert cli("deploy", "apply", "-f", path, "--no-devices")[0] == 0
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["cameras"][0]["name"] = "改名したカメラ"
    if bad == "ca_file":
        data["defaults"]["tls_ca_file"] = "no-such-ca.pem"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    only = ["--only", "cam-9"] if bad == "only" else []
    code, _out, err = cli("deploy", "apply", "-f", path, "--devices", *only)
    assert code == 2 and "Traceback" not in err
    assert ("cam-9" if bad == "only" else "no-such-ca.pem") in err
    _, sessions = open_database(sqlite_url)
    with sessions() as s:
        assert s.get(m.Camera, "cam-1").name == "カメラ1"


def test_hand_made_change_shows_up_as_drift(healthy, cli, tmp_path, sqlite_url, monkeypatch):
    sim = healthy
    path = small_deployment(sim, tmp_path / "d.yaml", GLOBAL)
    code, _out, err = cli("deploy", "apply", "-f", path, "--devices")
    assert code == 0, err
    sim.change_settings("hq-002", sub={"gop": 50}, hostname="someone-else", name="Renamed")
    _, sessions = open_database(sqlite_url)
    service = DiscoveryService(load_config(path), sessions, device_timeout=10)
    try:
        run = service.run_once()
        drifted = {r.camera_id: r for r in run.results
                   if any(f.kind == "drift" for f in r.findings)}
        assert set(drifted) == {"cam-2"}
        finding = next(f for f in drifted["cam-2"].findings if f.kind == "drift")
        fields = {f["field"]: (f["current"], f["desired"]) for f in finding.data["fields"]}
        assert fields == {"sub.gop": (50, 20), "hostname": ("someone-else", "hq-cam-2"),
                          "name": ("Renamed", "hq カメラ2")}
        service.run_once()  # still drifted: no second event
    finally:
        service.close()
    with sessions() as session:
        state = session.get(m.CameraState, "cam-2")
        assert [f["kind"] for f in state.findings] == ["drift"]
        events = session.scalars(select(m.Event).where(m.Event.kind == "discovery.drift")).all()
        assert [(e.camera_id, e.severity) for e in events] == [("cam-2", "medium")]
    # a re-apply puts the camera back; the next round clears the finding
    code, out, _ = cli("deploy", "plan", "-f", path, "--devices")
    assert code == 0 and "~ device cam-2" in out and "~ device cam-1" not in out


def test_a_missing_camera_secret_is_said_once_not_per_camera(sim, cli, tmp_path, monkeypatch):
    path = small_deployment(sim, tmp_path / "d.yaml", GLOBAL)
    monkeypatch.delenv("CAMERAHUB_CAMERA_PASSWORD")
    code, out, _ = cli("deploy", "plan", "-f", path, "--devices")
    assert code == 1
    lines = [ln for ln in out.splitlines() if "credential" in ln]
    assert len(lines) == 1 and "4 camera(s)" in lines[0]
    assert "CAMERAHUB_CAMERA_PASSWORD" in lines[0]
