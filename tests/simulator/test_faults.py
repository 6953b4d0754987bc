"""Every fault, switched at run time through the control endpoint or the library API."""

from __future__ import annotations

import calendar
import socket
import time

import httpx
import pytest
from onvif import ONVIFCamera, ONVIFError

from simulator.discovery import PORT
from simulator.state import FaultSpecError, parse_fault_spec
from tests.support.sim_clients import (
    RtspClient,
    parse_probe_match,
    post_soap,
    probe_message,
    soap_request,
    udp_socket,
)
from tests.support.sim_ranges import SUBNET_FAULTS, SUBNET_START_FAULTS
from tests.support.simulators import running_simulator, subnet_prefixes


def _control(sim, method: str, path: str, **kw) -> httpx.Response:
    return httpx.request(method, sim.control_url + path, timeout=20, **kw)


def _rtsp(sim, target: str = "hq-001", **kw) -> RtspClient:
    return RtspClient(sim.camera(target).address, sim.options.rtsp_port, **kw)


def _until_closed(client: RtspClient, limit: int = 100_000) -> bool:
    """Read packets until the server closes the connection."""
    try:
        for _ in range(limit):
            client.read_packet()
    except (ConnectionError, OSError):
        return True
    return False


def _date_and_time(sim, target: str) -> float:
    resp = post_soap(sim.device_url(target), soap_request("<tds:GetSystemDateAndTime/>"))
    from lxml import etree
    ns = {"tt": "http://www.onvif.org/ver10/schema"}
    utc = etree.fromstring(resp.content).find(".//tt:UTCDateTime", ns)
    parts = [int(utc.findtext(f".//tt:{k}", namespaces=ns)) for k in
             ("Year", "Month", "Day", "Hour", "Minute", "Second")]
    return calendar.timegm(tuple(parts) + (0, 0, 0))


def test_control_endpoint_lists_and_validates(fault_sim):
    cams = _control(fault_sim, "GET", "/cameras").json()
    assert [c["id"] for c in cams] == ["hq-001", "hq-002"]
    second = f"{subnet_prefixes(SUBNET_FAULTS)[0]}2"
    assert _control(fault_sim, "GET", f"/cameras/{second}").json()["id"] == "hq-002"
    assert _control(fault_sim, "GET", "/cameras/nope").status_code == 404
    assert _control(fault_sim, "POST", "/cameras/hq-001/faults", content=b"{").status_code == 400
    bad = _control(fault_sim, "POST", "/cameras/hq-001/faults", json={"explode": True})
    assert bad.status_code == 400 and "unknown fault" in bad.json()["error"]


def test_offline_stops_soap_rtsp_and_discovery(fault_sim):
    cam = fault_sim.camera("hq-001")
    playing = _rtsp(fault_sim)
    playing.play("sub")
    playing.read_rtp()
    reply = _control(fault_sim, "POST", "/cameras/hq-001/faults", json={"offline": True})
    assert reply.json()["faults"]["offline"] is True
    assert _until_closed(playing)
    with pytest.raises(httpx.ConnectError):
        post_soap(fault_sim.device_url("hq-001"), soap_request("<tds:GetSystemDateAndTime/>"))
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((cam.address, fault_sim.options.rtsp_port), timeout=20)
    other = fault_sim.camera("hq-002")
    with udp_socket() as sock:
        sock.sendto(probe_message()[1], (cam.address, PORT))
        mid, data = probe_message()
        sock.sendto(data, (other.address, PORT))
        assert parse_probe_match(sock.recvfrom(65535)[0])["relates_to"] == mid
    _control(fault_sim, "DELETE", "/cameras/hq-001/faults")
    ok = post_soap(fault_sim.device_url("hq-001"), soap_request("<tds:GetSystemDateAndTime/>"))
    assert ok.status_code == 200


def test_drop_after_cuts_sessions(fault_sim):
    fault_sim.set_faults("hq-001", drop_after=1)
    client = _rtsp(fault_sim)
    try:
        client.play("sub")
        assert _until_closed(client)
    finally:
        client.close()
    other = _rtsp(fault_sim, "hq-002")  # other cameras are unaffected
    try:
        other.play("sub")
        assert other.read_rtp().payload_type == 96
    finally:
        other.close()


def test_reject_auth_refuses_correct_credentials(fault_sim):
    cam = fault_sim.camera("hq-001")
    fault_sim.set_faults("hq-001", reject_auth=True)
    with pytest.raises(ONVIFError, match="not Authorized"):
        ONVIFCamera(cam.address, fault_sim.options.http_port, "admin", "admin")
    client = _rtsp(fault_sim)
    try:
        assert client.request("DESCRIBE", "main").status == 401
    finally:
        client.close()
    fault_sim.clear_faults("hq-001")
    ONVIFCamera(cam.address, fault_sim.options.http_port, "admin", "admin")


def test_skew_shifts_the_reported_clock(fault_sim):
    cam = fault_sim.camera("hq-001")
    fault_sim.set_faults("hq-001", skew=3600)
    assert abs(_date_and_time(fault_sim, "hq-001") - time.time() - 3600) < 120
    assert abs(_date_and_time(fault_sim, "hq-002") - time.time()) < 120
    # a client trusting its own clock is outside the camera's UsernameToken window...
    with pytest.raises(ONVIFError, match="not Authorized"):
        ONVIFCamera(cam.address, fault_sim.options.http_port, "admin", "admin")
    # ...and one that adjusts to the camera's clock gets in
    dev = ONVIFCamera(cam.address, fault_sim.options.http_port, "admin", "admin",
                      adjust_time=True)
    assert dev.devicemgmt.GetHostname().Name == "hq-001"


def test_replaced_changes_serial_and_endpoint_reference(fault_sim):
    cam = fault_sim.camera("hq-001")
    before = _control(fault_sim, "GET", "/cameras/hq-001").json()
    after = _control(fault_sim, "POST", "/cameras/hq-001/faults", json={"replaced": True}).json()
    assert after["generation"] == before["generation"] + 1
    assert after["serial_number"] != before["serial_number"]
    assert after["endpoint_reference"] != before["endpoint_reference"]
    dev = ONVIFCamera(cam.address, fault_sim.options.http_port, "admin", "admin")
    assert dev.devicemgmt.GetDeviceInformation().SerialNumber == after["serial_number"]
    with udp_socket() as sock:
        sock.sendto(probe_message()[1], (cam.address, PORT))
        match = parse_probe_match(sock.recvfrom(65535)[0])
    assert match["epr"] == after["endpoint_reference"] and match["metadata_version"] == "2"


def test_stall_keeps_the_connection_but_sends_nothing(fault_sim):
    client = _rtsp(fault_sim)
    try:
        client.play("sub")
        client.read_rtp()
        fault_sim.set_faults("hq-001", stall=True)
        # anything sent before the stall arrives ahead of this reply
        assert client.request("GET_PARAMETER", "sub").status == 200
        client.sock.settimeout(1.5)
        assert not client.buf
        with pytest.raises(TimeoutError):
            client.sock.recv(1)
        client.sock.settimeout(20)
        assert client.request("GET_PARAMETER", "sub").status == 200  # still connected
        fault_sim.set_faults("hq-001", stall=False)
        assert client.read_rtp().payload_type == 96
    finally:
        client.close()


def test_faults_given_at_start():
    first = f"{subnet_prefixes(SUBNET_START_FAULTS)[0]}1"
    with running_simulator(cameras=2, subnet=SUBNET_START_FAULTS, control_port=None,
                           faults=["hq-002:offline", f"{first}:skew=30,reject-auth"]) as sim:
        first = sim.camera("hq-001").faults
        assert (first.skew, first.reject_auth, first.offline) == (30.0, True, False)
        with pytest.raises(httpx.ConnectError):
            post_soap(sim.device_url("hq-002"), soap_request("<tds:GetSystemDateAndTime/>"))


@pytest.mark.parametrize(("spec", "expected"), [
    ("hq-001:offline", ("hq-001", {"offline": True})),
    ("127.0.1.3:skew=30", ("127.0.1.3", {"skew": 30.0})),
    ("hq-002:drop=5,stall", ("hq-002", {"drop_after": 5.0, "stall": True})),
    ("*:reject-auth", ("*", {"reject_auth": True})),
    ("fac-001:replaced", ("fac-001", {"replaced": True})),
])
def test_fault_spec_syntax(spec, expected):
    assert parse_fault_spec(spec) == expected


@pytest.mark.parametrize("spec", ["hq-001", "hq-001:", ":offline", "hq-001:explode",
                                  "hq-001:skew=abc", "hq-001:drop=0"])
def test_bad_fault_specs_are_rejected(spec):
    with pytest.raises(FaultSpecError):
        parse_fault_spec(spec)
