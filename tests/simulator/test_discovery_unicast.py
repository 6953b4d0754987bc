"""WS-Discovery over unicast UDP (no namespace needed: no multicast is sent)."""

from __future__ import annotations

import pytest

from simulator.discovery import PORT
from tests.support.sim_clients import parse_probe_match, probe_message, udp_socket


def _ask(sock, address: str, **kw) -> str:
    mid, data = probe_message(**kw)
    sock.sendto(data, (address, PORT))
    return mid


def test_unicast_probe_gets_a_correct_probe_match(sim):
    cam = sim.camera("hq-002")
    with udp_socket() as sock:
        mid = _ask(sock, cam.address)
        data, sender = sock.recvfrom(65535)
    assert sender == (cam.address, PORT)  # answered from the camera's own address
    match = parse_probe_match(data)
    assert match["action"].endswith("/discovery/ProbeMatches")
    assert match["relates_to"] == mid
    assert match["epr"] == cam.endpoint_reference
    assert match["xaddrs"] == f"http://{cam.address}:{sim.options.http_port}/onvif/device_service"
    assert "onvif://www.onvif.org/Profile/Streaming" in match["scopes"]
    assert match["types_nsmap"]["dn"] == "http://www.onvif.org/ver10/network/wsdl"
    assert "dn:NetworkVideoTransmitter" in match["types"] and match["metadata_version"] == "1"


@pytest.mark.parametrize(("types", "scopes", "answers"), [
    (None, None, True),
    ("tds:Device", None, True),
    ("x:Printer", None, False),
    ("dn:NetworkVideoTransmitter", "onvif://www.onvif.org/location/hq", True),
    ("dn:NetworkVideoTransmitter", "onvif://www.onvif.org/location/elsewhere", False),
    (None, "onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/name/HQ_Camera_001",
     True),
])
def test_probe_filters(sim, types, scopes, answers):
    """A filtered probe first, then a plain one: the first answer tells whether it matched."""
    cam = sim.camera("hq-001")
    with udp_socket() as sock:
        filtered = _ask(sock, cam.address, types=types, scopes=scopes)
        plain = _ask(sock, cam.address)
        first = parse_probe_match(sock.recvfrom(65535)[0])["relates_to"]
    assert first == (filtered if answers else plain)


def test_garbage_datagrams_are_ignored(sim):
    cam = sim.camera("hq-001")
    with udp_socket() as sock:
        sock.sendto(b"\x00garbage<<", (cam.address, PORT))
        mid = _ask(sock, cam.address)
        assert parse_probe_match(sock.recvfrom(65535)[0])["relates_to"] == mid
