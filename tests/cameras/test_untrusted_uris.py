"""A camera's answers are hostile input: a stream URI on another host or scheme is refused,
no connection is made to it, and the camera's credentials never leave for it.

The hostile camera is camerahub-sim with its `stream-uri` fault; the host it points at is a
listener of the test's own on another loopback address, which records every connection.
"""

from __future__ import annotations

import socket
import threading

import pytest
import yaml
from sqlalchemy import select

from camerahub.cameras import CameraAccess, UntrustedStreamUri
from camerahub.cameras.events import refusal_events
from camerahub.cameras.uris import SNAPSHOT_SCHEMES, STREAM_SCHEMES, UriRefused, checked_uri
from camerahub.config import parse_config
from camerahub.db import models as m
from camerahub.db.engine import open_database
from camerahub.onvif import Login, NotOnvifDevice, OnvifClient

testing = pytest.importorskip("simulator.testing")

SUBNET = 105  # 127.0.105.x / 127.0.106.x: this file's own cameras
CATCHER_HOST = "127.0.105.200"
PASSWORD = "Camera-Secret-Pa55"


class Catcher:
    """A TCP listener that records every connection and the first bytes sent on it."""

    def __init__(self, host: str = CATCHER_HOST):
        self.sock = socket.socket()
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.host, self.port = self.sock.getsockname()
        self.seen: list[bytes] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    self.seen.append(conn.recv(4096))
                except OSError:
                    self.seen.append(b"")

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


@pytest.fixture(scope="module")
def sim():
    with testing.running_simulator(cameras=1, hq=1, subnet=SUBNET, password=PASSWORD) as s:
        yield s


@pytest.fixture
def catcher():
    c = Catcher()
    yield c
    c.close()


@pytest.fixture
def hostile(sim):
    """The camera with a URI fault for one test, healed afterwards."""
    def set_uri(uri: str, snapshot: str | None = None):
        sim.set_faults(sim.cameras[0].camera_id, stream_uri=uri, snapshot_uri=snapshot)
    yield set_uri
    sim.clear_faults(sim.cameras[0].camera_id)


def config_for(sim, stream_hosts=()):
    cam = sim.cameras[0]
    data = {
        "sites": [{"id": "hq", "name": "本庁舎", "kind": "headquarters"}],
        "org": {"departments": [{"id": "d", "name": "部", "divisions": [
            {"id": "v", "name": "分野", "rooms": [{"id": "r", "name": "室", "site": "hq"}]}]}]},
        "credentials": [{"id": "c", "username": "admin", "password_env": "CAMERAHUB_TEST_URI_PW"}],
        "defaults": {"port": sim.options.http_port, "credential": "c"},
        "cameras": [{"id": "cam", "name": "カメラ", "site": "hq", "room": "r",
                     "address": cam.address, "stream_hosts": list(stream_hosts)}],
    }
    return parse_config(yaml.safe_dump(data, allow_unicode=True), "uri-test.yaml")


@pytest.fixture(autouse=True)
def _password(monkeypatch):
    monkeypatch.setenv("CAMERAHUB_TEST_URI_PW", PASSWORD)


HOSTILE = [
    "rtsp://{catcher}/main",
    "rtsp://admin:x@{catcher}/main",
    "rtsp://{address}@{catcher}/main",  # looks like the camera, connects to the catcher
    "RTSP://{catcher}/main",
    "file:///etc/passwd",
    "http://{address}/main",
    "rtmp://{address}/main",
    "/main",
    "rtsp://{address}:99999/main",
    "rtsp://{address}/ma in",
    "rtsp://" + "a" * 3000 + "/main",
]


@pytest.mark.parametrize("template", HOSTILE)
def test_a_foreign_stream_uri_is_refused_without_connecting(template, sim, hostile, catcher,
                                                            tmp_path):
    address = sim.cameras[0].address
    hostile(template.format(catcher=f"{catcher.host}:{catcher.port}", address=address))
    _, sessions = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    access = CameraAccess(config_for(sim), on_refusal=refusal_events(sessions))
    try:
        with pytest.raises(UntrustedStreamUri) as refused:
            access.stream_url("cam", "main")
    finally:
        access.close()
    assert PASSWORD not in str(refused.value)
    assert catcher.seen == []  # nothing was sent there, so no credential either
    with sessions() as s:
        (event,) = s.scalars(select(m.Event).where(m.Event.kind == "camera.untrusted_uri"))
    assert event.severity == "high" and event.camera_id == "cam"
    assert PASSWORD not in event.message


def test_the_cameras_own_uri_is_used_with_its_login(sim):
    access = CameraAccess(config_for(sim))
    try:
        url = access.stream_url("cam", "main")
    finally:
        access.close()
    assert url.startswith(f"rtsp://admin:{PASSWORD}@{sim.cameras[0].address}:")


def test_a_nat_camera_may_name_a_host_the_yaml_allows(sim, hostile, catcher):
    hostile(f"rtsp://{catcher.host}:{catcher.port}/main")
    access = CameraAccess(config_for(sim, stream_hosts=[catcher.host]))
    try:
        url = access.stream_url("cam", "main")
    finally:
        access.close()
    assert url == f"rtsp://admin:{PASSWORD}@{catcher.host}:{catcher.port}/main"


def test_refusal_events_are_not_repeated_on_every_reconnect(tmp_path):
    _, sessions = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    record = refusal_events(sessions)
    for _ in range(5):
        record("cam", "stream URI refused: host x")
    record("other", "stream URI refused: host y")
    with sessions() as s:
        assert len(s.scalars(select(m.Event)).all()) == 2


CHECKS = [
    ("rtsp://127.0.0.1:554/a?x=1", STREAM_SCHEMES, ["127.0.0.1"], "rtsp://127.0.0.1:554/a?x=1"),
    ("RTSPS://CAM.example/a", STREAM_SCHEMES, ["cam.example"], "rtsps://cam.example/a"),
    ("rtsp://u:p@127.0.0.1/a", STREAM_SCHEMES, ["127.0.0.1"], "rtsp://127.0.0.1/a"),
    ("rtsp://[::1]:8554/a", STREAM_SCHEMES, ["::1"], "rtsp://[::1]:8554/a"),
    ("http://127.0.0.1/snap.jpg", SNAPSHOT_SCHEMES, ["127.0.0.1"], "http://127.0.0.1/snap.jpg"),
]


@pytest.mark.parametrize("uri,schemes,hosts,expected", CHECKS)
def test_checked_uri_keeps_what_is_allowed_and_drops_user_info(uri, schemes, hosts, expected):
    assert checked_uri(uri, schemes, hosts) == expected


@pytest.mark.parametrize("uri", ["rtsp://127.0.0.01/a", "rtsp://2130706433/a",
                                 "rtsp://127.0.0.2/a", "http://127.0.0.1/a", "rtsp:///a",
                                 "rtsp://127.0.0.1\\@evil/a", "rtsp://127.0.0.1/\x00"])
def test_checked_uri_refuses(uri):
    with pytest.raises(UriRefused):
        checked_uri(uri, STREAM_SCHEMES, ["127.0.0.1"])


def test_discovery_reports_an_untrusted_uri_finding(sim, hostile, catcher, tmp_path):
    from camerahub.deploy import apply_plan, plan_changes
    from camerahub.discovery import DiscoveryService
    from camerahub.discovery.plan import ScanPlan, SitePlan

    hostile(f"rtsp://{catcher.host}:{catcher.port}/main", snapshot="file:///etc/shadow")
    cfg = config_for(sim)
    _, sessions = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with sessions.begin() as s:
        apply_plan(s, plan_changes(s, cfg), "x", "test")
    service = DiscoveryService(cfg, sessions, probe_timeout=0.5, device_timeout=10)
    address = sim.cameras[0].address
    plan = ScanPlan((SitePlan("hq", manual=True),), scope_sites=frozenset({"hq"}))
    try:
        result = service.run(plan)
    finally:
        service.close()
    (device,) = [r for r in result.results if r.address == address]
    (finding,) = [f for f in device.findings if f.kind == "untrusted_uri"]
    assert finding.severity == "high"
    assert "snapshot" in finding.message and "stream" in finding.message
    assert catcher.seen == []


class Redirector:
    """An HTTP server that answers every request with a 307 to the catcher."""

    def __init__(self, target: str):
        self.sock = socket.socket()
        self.sock.bind(("127.0.105.201", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.target = target
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(f"HTTP/1.1 307 Temporary Redirect\r\nLocation: {self.target}\r\n"
                             "Content-Length: 0\r\nConnection: close\r\n\r\n".encode())


def test_onvif_never_follows_a_redirect_with_our_soap(catcher):
    redirector = Redirector(f"http://{catcher.host}:{catcher.port}/onvif/device_service")
    client = OnvifClient(timeout=5)
    try:
        with pytest.raises(NotOnvifDevice):
            client.interrogate(f"http://127.0.105.201:{redirector.port}/onvif/device_service",
                               Login("admin", PASSWORD))
    finally:
        client.close()
        redirector.sock.close()
    assert catcher.seen == []
