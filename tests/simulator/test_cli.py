"""`camerahub-sim` as a process: readiness line, start-up faults, config file, exit codes."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest
from onvif import ONVIFCamera

from simulator.launcher import REPO_ROOT
from tests.support.sim_ranges import SUBNET_PROCESS
from tests.support.simulators import subnet_prefixes

PROCESS = subnet_prefixes(SUBNET_PROCESS)[0]  # launch_sim's HQ range, 127.W.37.


def test_ready_line_faults_and_clean_stop(launch_sim):
    proc, ports = launch_sim("--cameras", "3", "--hq", "2", "--fault", "fac-001:offline",
                             "--fault", "hq-002:skew=30")
    control = f"http://127.0.0.1:{ports['control_port']}"
    cams = {c["id"]: c for c in httpx.get(f"{control}/cameras", timeout=20).json()}
    assert sorted(cams) == ["fac-001", "hq-001", "hq-002"]
    assert cams["fac-001"]["faults"]["offline"] is True
    assert cams["hq-002"]["faults"]["skew"] == 30
    assert cams["fac-001"]["address"] == ports["facility_base"]
    dev = ONVIFCamera(ports["hq_base"], ports["port"], "admin", "admin")
    assert dev.devicemgmt.GetDeviceInformation().SerialNumber == cams["hq-001"]["serial_number"]
    assert proc.stop() == 0


def test_config_file_and_credentials(launch_sim, tmp_path):
    config = tmp_path / "cams.yaml"
    config.write_text("cameras:\n"
                      f"  - {{id: gate, address: {PROCESS}9, site: depot, name: Gate, "
                      "main: 640x360@12}\n"
                      f"  - {{id: yard, address: {PROCESS}10, site: depot}}\n")
    proc, ports = launch_sim("--config", str(config), "--username", "op", "--password", "s3cret")
    dev = ONVIFCamera(f"{PROCESS}9", ports["port"], "op", "s3cret")
    media = dev.create_media_service()
    main = media.GetProfile({"ProfileToken": "main"}).VideoEncoderConfiguration
    assert (main.Resolution.Width, main.RateControl.FrameRateLimit) == (640, 12)
    scopes = [s.ScopeItem for s in dev.devicemgmt.GetScopes()]
    assert "onvif://www.onvif.org/location/depot" in scopes


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "simulator", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("args", [
    ["--fault", "hq-001"], ["--fault", "nobody:offline"], ["--hq-base", "10.1.2.3"],
    ["--cameras", "0"], ["--control-port", "192.168.1.1:9000"], ["--bitrate", "fast"],
    ["--interface", "no-such-if0"], ["--tls-cert", "cert.pem"], ["--onvif-https"],
    ["--tls-cert", "/no/such/cert.pem", "--tls-key", "/no/such/key.pem"],
])
def test_invalid_input_exits_2(args):
    result = _run("--cameras", "2", *args) if "--cameras" not in args else _run(*args)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().startswith("camerahub-sim:") or "usage:" in result.stderr
