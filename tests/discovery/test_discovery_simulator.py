"""End to end against 100 simulated cameras: unicast discovery, interrogation, findings,
state and events in the database. No multicast: the simulator runs without --interface."""

from __future__ import annotations

import av
import pytest
from sqlalchemy import select

from camerahub.db import models as m
from camerahub.discovery import DiscoveryService
from tests.support.discovery import FACILITY_PREFIX, HQ_PREFIX


@pytest.fixture
def service(deploy):
    """A DiscoveryService on a fresh deployment of the rewritten Nakano example."""
    dep = deploy()
    svc = DiscoveryService(dep.config, dep.sessions, probe_timeout=3.0, device_timeout=20)
    yield svc
    svc.close()


def by_address(run) -> dict:
    return {r.address: r for r in run.results}


def test_all_100_cameras_found_and_interrogated(service, sim100):
    run = service.run_once()
    assert len(run.results) == 100, run.counts()
    assert run.counts() == {"online": 100}
    for r in run.results:
        assert r.camera_id and r.endpoint and r.findings == []
        rep = r.report
        assert rep.info.serial.startswith("CHS") and rep.mac and rep.snapshot_uri
        assert [(p.token, p.width, p.height, p.codec) for p in rep.profiles] == [
            ("main", 1280, 720, "H264"), ("sub", 640, 360, "H264")]
        assert all(p.stream_uri == f"rtsp://{r.address}:{sim100.rtsp_port}/{p.token}"
                   for p in rep.profiles)
    assert {r.site for r in run.results if r.address.startswith(HQ_PREFIX)} == {"hq"}
    with service.sessions() as session:
        states = session.scalars(select(m.CameraState)).all()
    assert len(states) == 100
    assert all(s.status == "online" and s.serial and s.endpoint and s.last_seen for s in states)


def test_stream_uri_plays(service, sim100):
    """The discovered RTSP URI is the camera's real stream: PyAV reads H.264 from it."""
    run = service.run_once(["sukoyaka-chubu"])
    uri = run.results[0].report.profiles[1].stream_uri
    authed = uri.replace("rtsp://", "rtsp://admin:admin@")
    with av.open(authed, options={"rtsp_transport": "tcp", "timeout": "20000000"},
                 timeout=20) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        packet = next(p for p in container.demux(stream) if p.size)
        assert packet.size > 0
    assert (stream.codec_context.width, stream.codec_context.height) == (640, 360)


def test_facilities_found_by_unicast_with_multicast_off(service):
    facilities = [s.id for s in service.config.sites if s.kind == "facility"]
    run = service.run_once(facilities)
    assert len(run.results) == 45 and run.counts() == {"online": 45}
    assert all(r.address.startswith(FACILITY_PREFIX) and r.camera_id for r in run.results)
    assert {r.site for r in run.results} == set(facilities)


def test_each_fault_is_its_own_finding(service, sim100, healthy):
    service.run_once(["hq"])  # learn every camera's identity first
    for cam, faults in {"hq-003": {"offline": True}, "hq-004": {"reject_auth": True},
                        "hq-005": {"skew": 30}, "hq-006": {"replaced": True}}.items():
        sim100.fault(cam, **faults)
        healthy.append(cam)
    run = service.run_once(["hq"])
    found = by_address(run)

    def kinds(n):
        return [f.kind for f in found[f"{HQ_PREFIX}{n}"].findings]

    assert (found[f"{HQ_PREFIX}3"].status, kinds(3)) == ("offline", ["missing"])
    assert (found[f"{HQ_PREFIX}4"].status, kinds(4)) == ("unauthorized", ["unauthorized"])
    assert (found[f"{HQ_PREFIX}5"].status, kinds(5)) == ("online", ["clock_skew"])
    assert (found[f"{HQ_PREFIX}6"].status, kinds(6)) == ("online", ["replaced"])
    assert 29 < found[f"{HQ_PREFIX}5"].report.clock_offset_s < 31
    assert sum(1 for r in run.results if r.findings) == 4 and len(run.results) == 55

    with service.sessions() as session:
        events = {e.kind: e for e in session.scalars(select(m.Event))}
        replaced_state = session.get(m.CameraState, found[f"{HQ_PREFIX}6"].camera_id)
        offline_state = session.get(m.CameraState, found[f"{HQ_PREFIX}3"].camera_id)
    assert set(events) == {"discovery.missing", "discovery.unauthorized",
                           "discovery.clock_skew", "discovery.replaced"}
    assert events["discovery.replaced"].severity == "high"
    assert events["discovery.replaced"].camera_id == found[f"{HQ_PREFIX}6"].camera_id
    # the trusted identity stays; what answered is kept aside
    new_serial = sim100.camera("hq-006")["serial_number"]
    assert replaced_state.serial != new_serial
    assert replaced_state.details["observed"]["serial"] == new_serial
    assert offline_state.status == "offline" and offline_state.findings[0]["kind"] == "missing"

    # the same findings on the next round do not repeat their events
    service.run_once(["hq"])
    with service.sessions() as session:
        assert len(session.scalars(select(m.Event)).all()) == 4


def test_manual_site_is_interrogated_without_a_probe(deploy):
    dep = deploy("manual", manual={"sukoyaka-hokubu"})
    service = DiscoveryService(dep.config, dep.sessions, probe_timeout=3.0, device_timeout=20)
    try:
        run = service.run_once(["sukoyaka-hokubu"])
    finally:
        service.close()
    assert run.counts() == {"online": 5}
    assert all(r.camera_id and r.report.info.serial and r.findings == [] for r in run.results)
    assert all(not r.sighting.probed and r.endpoint is None for r in run.results)


def test_a_camera_configured_for_https_is_never_asked_over_plain_http(deploy):
    """A probe answer offers the device's http:// XAddr; a camera the deployment says speaks
    ONVIF over HTTPS is asked at its own https:// URL all the same, so its login never goes
    out unprotected. (This simulator speaks plain HTTP, so that camera is not interrogated;
    the site's other cameras are, at the XAddrs their probe answers gave.)"""
    site = "sukoyaka-chubu"
    first = next(c for c in deploy().config.cameras if c.site == site)
    dep = deploy("https", https={first.id})
    service = DiscoveryService(dep.config, dep.sessions, probe_timeout=3.0, device_timeout=3)
    try:
        run = service.run_once([site])
    finally:
        service.close()
    by_camera = {r.camera_id: r for r in run.results}
    forced = by_camera[first.id]
    assert forced.sighting.probed and forced.sighting.xaddr.startswith("https://")
    assert forced.report is None
    others = [r for cam, r in by_camera.items() if cam != first.id]
    assert others and all(r.report is not None for r in others)
    assert all(r.sighting.xaddr.startswith("http://") for r in others)


def test_a_device_of_no_camera_gets_no_login_over_http_when_the_deployment_says_https(
        deploy):
    """defaults.onvif_https, and a device that answers a probe at an address no camera of
    the inventory has (a camera readdressed, named by host name, or not yet deployed) with
    an http:// XAddr: it is asked without the defaults' login, which never goes out over
    plain HTTP."""
    site = "sukoyaka-chubu"
    stranger = next(c for c in deploy().config.cameras if c.site == site)
    dep = deploy("https-default", drop={stranger.id}, https_default=True)
    service = DiscoveryService(dep.config, dep.sessions, probe_timeout=3.0, device_timeout=3)
    try:
        run = service.run_once([site])
    finally:
        service.close()
    found = next(r for r in run.results if r.address == stranger.address)
    assert found.camera_id is None and found.sighting.xaddr.startswith("http://")
    assert found.report is None
    assert found.sighting.error.kind == "unauthorized"
    assert "no credential" in found.sighting.error.reason
