"""ONVIF SOAP services of the simulator, exercised with onvif-zeep and raw requests."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
from onvif import ONVIFCamera, ONVIFError

from tests.support.sim_clients import post_soap, soap_request, username_token
from tests.support.sim_ranges import SUBNET_SHARED
from tests.support.simulators import subnet_bases

STREAM_SETUP = {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}}


@pytest.fixture(scope="module")
def camera(sim):
    """onvif-zeep's ONVIFCamera against the first simulated camera."""
    cam = sim.camera("hq-001")
    return ONVIFCamera(cam.address, sim.options.http_port, "admin", "admin")


def test_device_information_matches_identity(sim, camera):
    info = camera.devicemgmt.GetDeviceInformation()
    state = sim.camera("hq-001")
    assert info.Manufacturer == "CamerahubSim"
    assert info.SerialNumber == state.serial_number
    assert info.Model == state.model and info.FirmwareVersion and info.HardwareId


def test_profiles_and_stream_uris(sim, camera):
    media = camera.create_media_service()
    profiles = {p.token: p for p in media.GetProfiles()}
    assert set(profiles) == {"main", "sub"}
    main = profiles["main"].VideoEncoderConfiguration
    assert (main.Encoding, main.Resolution.Width, main.Resolution.Height) == ("H264", 1280, 720)
    assert main.RateControl.FrameRateLimit == 15
    sub = profiles["sub"].VideoEncoderConfiguration
    assert (sub.Resolution.Width, sub.Resolution.Height, sub.RateControl.FrameRateLimit) == (
        640, 360, 10)
    addr, port = sim.camera("hq-001").address, sim.options.rtsp_port
    for token in profiles:
        uri = media.GetStreamUri({"StreamSetup": STREAM_SETUP, "ProfileToken": token}).Uri
        assert uri == f"rtsp://{addr}:{port}/{token}"


def test_other_device_and_media_operations(sim, camera):
    dm = camera.devicemgmt
    state = sim.camera("hq-001")
    scopes = [s.ScopeItem for s in dm.GetScopes()]
    assert "onvif://www.onvif.org/type/video_encoder" in scopes
    assert any(s.startswith("onvif://www.onvif.org/name/") for s in scopes)
    assert dm.GetHostname().Name == "hq-001"
    assert dm.GetNetworkInterfaces()[0].Info.HwAddress == state.mac
    assert len(dm.GetServices({"IncludeCapability": False})) == 2
    media = camera.create_media_service()
    assert media.GetVideoSources()[0].Resolution.Width == 1280
    assert len(media.GetVideoEncoderConfigurations()) == 2
    assert media.GetProfile({"ProfileToken": "sub"}).token == "sub"
    snap = media.GetSnapshotUri({"ProfileToken": "main"}).Uri
    assert snap.endswith("/onvif/snapshot?profile=main")


def test_snapshot_is_a_jpeg(sim):
    import httpx
    cam = sim.camera("hq-001")
    resp = httpx.get(f"http://{cam.address}:{sim.options.http_port}/onvif/snapshot",
                     params={"profile": "sub"}, timeout=20)
    assert resp.status_code == 200 and resp.content[:2] == b"\xff\xd8"


def test_wrong_password_is_refused(sim):
    cam = sim.camera("hq-002")
    with pytest.raises(ONVIFError, match="not Authorized"):
        ONVIFCamera(cam.address, sim.options.http_port, "admin", "wrong")


def test_date_and_time_needs_no_credentials(sim):
    resp = post_soap(sim.device_url("hq-001"), soap_request("<tds:GetSystemDateAndTime/>"))
    assert resp.status_code == 200 and b"UTCDateTime" in resp.content


def _fault_subcode(resp) -> bytes:
    assert b"<s:Fault>" in resp.content
    return resp.content


def test_missing_credentials_fault(sim):
    resp = post_soap(sim.device_url("hq-001"), soap_request("<tds:GetDeviceInformation/>"))
    assert resp.status_code == 400
    assert b"ter:NotAuthorized" in _fault_subcode(resp) and b"s:Sender" in resp.content


def test_stale_created_and_replayed_nonce_are_refused(sim):
    url = sim.device_url("hq-003")
    old = datetime.now(UTC) - timedelta(minutes=30)
    stale = soap_request("<tds:GetDeviceInformation/>", username_token("admin", "admin", old))
    assert b"ter:NotAuthorized" in post_soap(url, stale).content
    nonce = os.urandom(16)
    fresh = soap_request("<tds:GetDeviceInformation/>",
                         username_token("admin", "admin", nonce=nonce))
    assert post_soap(url, fresh).status_code == 200
    replay = post_soap(url, fresh)
    assert replay.status_code == 400 and b"ter:NotAuthorized" in replay.content


def test_unknown_operation_is_action_not_supported(sim):
    body = soap_request("<tds:GetZoomLevel/>", username_token("admin", "admin"))
    resp = post_soap(sim.device_url("hq-001"), body)
    assert resp.status_code == 500 and b"ter:ActionNotSupported" in resp.content


def test_unknown_profile_is_no_profile(sim):
    body = soap_request("<trt:GetProfile><trt:ProfileToken>nope</trt:ProfileToken>"
                        "</trt:GetProfile>", username_token("admin", "admin"))
    resp = post_soap(sim.device_url("hq-001").replace("device", "media"), body)
    assert resp.status_code == 400 and b"ter:NoProfile" in resp.content


@pytest.mark.parametrize("payload", [
    b"<not xml", b"", b'<?xml version="1.0"?><a/>',
    b'<!DOCTYPE x [<!ENTITY a "aaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><x>&b;</x>',
    b"\xff\xfe\x00garbage",
])
def test_malformed_soap_gets_a_fault_and_server_keeps_serving(sim, payload):
    url = sim.device_url("hq-001")
    resp = post_soap(url, payload)
    assert resp.status_code in (400, 500) and b"<s:Fault>" in resp.content
    ok = post_soap(url, soap_request("<tds:GetSystemDateAndTime/>"))
    assert ok.status_code == 200


def test_oversized_body_is_413(sim):
    resp = post_soap(sim.device_url("hq-001"), b"<x>" + b"a" * (1 << 20) + b"</x>")
    assert resp.status_code == 413


def test_broken_http_gets_400_and_server_keeps_serving(sim):
    import socket
    cam = sim.camera("hq-001")
    with socket.create_connection((cam.address, sim.options.http_port), timeout=20) as s:
        s.sendall(b"THIS IS NOT HTTP\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.1 400")
    assert post_soap(sim.device_url("hq-001"),
                     soap_request("<tds:GetSystemDateAndTime/>")).status_code == 200


def test_identities_are_distinct_and_deterministic(sim):
    from simulator.config import Layout, default_cameras
    cams = sim.cameras
    assert len({c.endpoint_reference for c in cams}) == len(cams)
    assert len({c.serial_number for c in cams}) == len({c.mac for c in cams}) == len(cams)
    hq_base, facility_base = subnet_bases(SUBNET_SHARED)
    again = default_cameras(Layout(cameras=4, hq_base=hq_base, facility_base=facility_base))
    assert [c.endpoint_reference for c in again] == [c.endpoint_reference for c in cams]
    assert [c.camera_id for c in cams] == ["hq-001", "hq-002", "hq-003", "fac-001"]
    assert cams[3].address == facility_base


def test_default_layout_is_55_hq_and_45_facility():
    from simulator.config import Layout, default_cameras
    cams = default_cameras(Layout())
    hq = [c for c in cams if c.kind == "hq"]
    assert (len(hq), len(cams)) == (55, 100)
    assert (hq[0].address, hq[-1].address) == ("127.0.1.1", "127.0.1.55")
    assert (cams[55].address, cams[-1].address) == ("127.0.2.1", "127.0.2.45")
