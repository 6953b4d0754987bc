"""The onvif-zeep adapter against camerahub-sim (in-process, 127.W.55.x) and quirky servers.

Nothing inside onvif or zeep is replaced: only the device on the other end of the socket is
simulated, and the quirks are real HTTP servers in front of it.
"""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from camerahub.onvif import (
    DeviceNotAuthorized,
    DeviceUnreachable,
    Login,
    NotOnvifDevice,
    OnvifClient,
)
from tests.support.simulators import simulator_fixture, subnet_prefixes

SUBNET = 55  # 127.W.55.x: this suite's private range
QUIRK_HOST = f"{subnet_prefixes(SUBNET)[0]}250"
ADMIN = Login("admin", "admin")

sim = simulator_fixture(SUBNET, cameras=2, hq=2)


@pytest.fixture(scope="module")
def client():
    with OnvifClient(timeout=10, max_workers=4) as c:
        yield c


@pytest.fixture
def healed(sim):
    """Every camera healthy again after the test."""
    yield sim
    for cam in sim.cameras:
        sim.clear_faults(cam.camera_id)


def test_interrogation_returns_our_dataclasses(sim, client):
    cam = sim.camera("hq-001")
    report = client.interrogate(sim.device_url("hq-001"), ADMIN)
    assert (report.address, report.port) == (cam.address, sim.options.http_port)
    info = report.info
    assert (info.manufacturer, info.model, info.firmware) == ("CamerahubSim", "CHS-D2M", "1.4.2")
    assert info.serial == cam.serial_number and info.hardware_id == cam.hardware_id
    assert report.mac == cam.mac
    main, sub = report.profiles
    assert (main.token, main.width, main.height, main.fps, main.codec) == (
        "main", 1280, 720, 15.0, "H264")
    assert (sub.token, sub.width, sub.height, sub.fps) == ("sub", 640, 360, 10.0)
    assert main.stream_uri == f"rtsp://{cam.address}:{sim.options.rtsp_port}/main"
    assert sub.stream_uri.endswith("/sub")
    assert report.snapshot_uri.startswith(f"http://{cam.address}:{sim.options.http_port}/")
    assert abs(report.clock_offset_s) < 2 and report.camera_utc is not None
    assert report.missing == ()


def test_wsdls_are_parsed_once_per_process(client):
    other = OnvifClient()
    try:
        other.load()
        assert other._document("media") is client._document("media")
    finally:
        other.close()


def test_submit_runs_on_the_pool(sim, client):
    futures = [client.submit(sim.device_url(c.camera_id), ADMIN) for c in sim.cameras]
    serials = {f.result(timeout=60).info.serial for f in futures}
    assert serials == {c.serial_number for c in sim.cameras}


@pytest.mark.parametrize("login", [Login("admin", "wrong"), Login("nobody", "admin"), None])
def test_bad_or_missing_credentials_fail_fast(sim, client, login):
    with pytest.raises(DeviceNotAuthorized):
        client.interrogate(sim.device_url("hq-001"), login)


def test_camera_rejecting_credentials(healed, client):
    healed.set_faults("hq-002", reject_auth=True)
    with pytest.raises(DeviceNotAuthorized, match="NotAuthorized|not Authorized"):
        client.interrogate(healed.device_url("hq-002"), ADMIN)


@pytest.mark.parametrize("skew", [30.0, -45.0, 900.0])
def test_clock_offset_is_measured_and_skewed_cameras_still_log_in(healed, client, skew):
    healed.set_faults("hq-002", skew=skew)
    report = client.interrogate(healed.device_url("hq-002"), ADMIN)
    assert abs(report.clock_offset_s - skew) < 1.5
    assert report.info.serial  # the digest token was dated on the camera's clock


def test_offline_camera_is_unreachable(healed, client):
    healed.set_faults("hq-002", offline=True)
    with pytest.raises(DeviceUnreachable):
        client.interrogate(healed.device_url("hq-002"), ADMIN)


# -- quirky servers ---------------------------------------------------------------------


def serve(handler_cls) -> tuple[ThreadingHTTPServer, str]:
    """Start an HTTP server on QUIRK_HOST; returns it and its device URL."""
    server = ThreadingHTTPServer((QUIRK_HOST, 0), handler_cls)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://{QUIRK_HOST}:{server.server_address[1]}/onvif/device_service"


class WebPage(BaseHTTPRequestHandler):
    """A web server that is not a camera."""

    def do_POST(self):
        body = b"<html><body>Welcome to nginx</body></html>"
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_plain_web_server_is_not_onvif(client):
    server, url = serve(WebPage)
    try:
        with pytest.raises(NotOnvifDevice):
            client.interrogate(url, ADMIN)
    finally:
        server.shutdown()


UNSUPPORTED = (b'<?xml version="1.0"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-'
               b'envelope" xmlns:ter="http://www.onvif.org/ver10/error"><s:Body><s:Fault>'
               b"<s:Code><s:Value>s:Receiver</s:Value><s:Subcode><s:Value>ter:ActionNotSupported"
               b"</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang=\"en\">Optional "
               b"Action Not Implemented</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>")


def partial_camera(target: str):
    """A camera without GetNetworkInterfaces and GetSnapshotUri, in front of a real one."""

    class Partial(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if b"GetNetworkInterfaces" in body or b"GetSnapshotUri" in body:
                status, ctype, out = 500, "application/soap+xml", UNSUPPORTED
            else:
                reply = httpx.post(target.rsplit("/", 1)[0] + "/" + self.path.rsplit("/", 1)[1],
                                   content=body, headers={"Content-Type": self.headers[
                                       "Content-Type"]}, timeout=30)
                status, ctype, out = reply.status_code, reply.headers["content-type"], \
                    reply.content
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *args):
            pass

    return Partial


def test_unsupported_calls_give_a_partial_report(sim, client):
    server, url = serve(partial_camera(sim.device_url("hq-001")))
    try:
        report = client.interrogate(url, ADMIN)
    finally:
        server.shutdown()
    assert report.info.serial == sim.camera("hq-001").serial_number
    assert len(report.profiles) == 2 and all(p.stream_uri for p in report.profiles)
    assert report.mac is None and report.snapshot_uri is None
    assert report.missing == ("GetNetworkInterfaces", "GetSnapshotUri")


def test_silent_server_times_out_as_unreachable():
    listener = socket.socket()
    listener.bind((QUIRK_HOST, 0))
    listener.listen(8)  # accepts connections (kernel backlog), never answers
    url = f"http://{QUIRK_HOST}:{listener.getsockname()[1]}/onvif/device_service"
    try:
        with OnvifClient(timeout=1.0) as quick, pytest.raises(DeviceUnreachable):
            quick.interrogate(url, ADMIN)
    finally:
        listener.close()


def test_nothing_listening_is_unreachable(client):
    with socket.socket() as s:
        s.bind((QUIRK_HOST, 0))
        port = s.getsockname()[1]
    with pytest.raises(DeviceUnreachable):
        client.interrogate(f"http://{QUIRK_HOST}:{port}/onvif/device_service", ADMIN)


class Flood(BaseHTTPRequestHandler):
    """Answers every request with more than the adapter will read."""

    def do_POST(self):
        # Read the request first: closing with unread input makes the kernel send a RST,
        # which the client would see as a reset instead of an oversized answer.
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        chunk = b"<x>" + b"A" * (1 << 20) + b"</x>"
        self.send_response(200)
        self.send_header("Content-Type", "application/soap+xml")
        self.send_header("Content-Length", str(len(chunk) * 6))
        self.end_headers()
        try:
            for _ in range(6):
                self.wfile.write(chunk)
        except OSError:
            pass  # the client hung up once it had enough: the point of the test

    def log_message(self, *args):
        pass


def test_oversized_answer_is_not_read_to_the_end(client):
    server, url = serve(Flood)
    try:
        with pytest.raises(NotOnvifDevice, match="larger than"):
            client.interrogate(url, ADMIN)
    finally:
        server.shutdown()
