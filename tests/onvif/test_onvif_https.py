"""ONVIF over HTTPS: the device's certificate is checked (the deployment's CA file or the
system's CAs, host name or address included) before any request, so a device that cannot
prove who it is never receives our SOAP, WS-Security token included.

The simulator (127.W.125.x, this module's own range) serves ONVIF and RTSP over TLS with a
certificate from a CA of the test's own; hostile servers are sockets on 127.0.0.1.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from camerahub.onvif import DeviceUntrusted, Login, OnvifClient
from simulator.testing import running_simulator, subnet_prefixes
from tests.support.tls import issued, tls_server

SUBNET = 125
PASSWORD = "admin"  # the simulator's; it must never reach a device we do not trust
ADMIN = Login("admin", PASSWORD)


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pki")
    hq, facility = subnet_prefixes(SUBNET)
    ca, cert, key = issued(folder, [f"{hq}1", f"{facility}1"])
    return {"ca": ca, "cert": cert, "key": key}


@pytest.fixture(scope="module")
def sim(pki):
    with running_simulator(cameras=2, hq=1, subnet=SUBNET, control_port=None,
                           main_size="640x360", tls_cert=pki["cert"], tls_key=pki["key"],
                           onvif_https=True) as s:
        yield s


@pytest.fixture(scope="module")
def trusting(pki):
    client = OnvifClient(timeout=10, ca_file=str(pki["ca"]))
    yield client
    client.close()


def test_a_device_with_a_trusted_certificate_is_interrogated_over_https(sim, trusting):
    url = sim.device_url(sim.cameras[0].camera_id)
    assert url.startswith("https://")
    report = trusting.interrogate(url, ADMIN)
    assert report.info.serial and report.mac
    # the media service too was asked over HTTPS (its URL keeps the device's scheme)
    assert [p.token for p in report.profiles] == ["main", "sub"]
    assert all(p.stream_uri.startswith("rtsps://") for p in report.profiles)
    assert report.port == sim.options.http_port


def test_settings_are_read_over_https(sim, trusting):
    settings = trusting.read_settings(sim.device_url(sim.cameras[1].camera_id), ADMIN)
    assert settings.hostname


def test_a_certificate_from_no_trusted_ca_is_refused_before_any_request(sim):
    client = OnvifClient(timeout=10)  # the system's CAs: the test CA is not among them
    try:
        with pytest.raises(DeviceUntrusted) as caught:
            client.interrogate(sim.device_url(sim.cameras[0].camera_id), ADMIN)
    finally:
        client.close()
    assert caught.value.kind == "untrusted"
    assert "certificate not trusted" in str(caught.value)
    assert PASSWORD not in str(caught.value).replace(sim.cameras[0].address, "")


def test_without_a_ca_file_the_systems_cas_are_used_as_for_rtsps(sim, pki, monkeypatch):
    """No tls_ca_file: the system's CAs decide (here OpenSSL's SSL_CERT_FILE stands in for
    the office CA installed on the host), for ONVIF as for rtsps://, not a bundle of
    requests' own that knows neither."""
    monkeypatch.setenv("SSL_CERT_FILE", str(pki["ca"]))
    client = OnvifClient(timeout=10)
    try:
        report = client.interrogate(sim.device_url(sim.cameras[0].camera_id), ADMIN)
    finally:
        client.close()
    assert [p.token for p in report.profiles] == ["main", "sub"]


def test_an_unusable_ca_file_is_refused_when_the_client_is_made(tmp_path):
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate\n")
    with pytest.raises(ValueError, match="cannot be used"):
        OnvifClient(ca_file=str(bad))


def _bundle(folder: Path, *cas: Path) -> Path:
    path = folder / "bundle.pem"
    path.write_bytes(b"".join(ca.read_bytes() for ca in cas))
    return path


def _refused_by(ca_file: Path, cert: Path | None, key: Path | None):
    """Interrogate a server on 127.0.0.1 (TLS with cert and key, or none at all), expecting a
    refusal: (the refusal, what the server received, its handshakes)."""
    client = OnvifClient(timeout=10, ca_file=str(ca_file))
    try:
        with tls_server(cert, key) as (port, received, handshakes), \
                pytest.raises(DeviceUntrusted) as caught:
            client.interrogate(f"https://127.0.0.1:{port}/onvif/device_service", ADMIN)
    finally:
        client.close()
    return caught.value, received, handshakes


def test_a_certificate_for_another_host_is_refused_and_hears_nothing(pki, tmp_path):
    """A trusted CA, the wrong name: the certificate names 127.0.0.2, the URL 127.0.0.1."""
    ca, cert, key = issued(tmp_path, ["127.0.0.2"])
    refusal, received, handshakes = _refused_by(_bundle(tmp_path, pki["ca"], ca), cert, key)
    assert "certificate not trusted" in str(refusal) and "127.0.0.1" in str(refusal)
    assert received == [], "a device that did not prove who it is heard a request"
    assert "done" not in handshakes


def test_a_port_that_speaks_no_tls_gets_no_request(pki):
    """An https:// device whose port answers in the clear (or not at all): only our
    ClientHello went out, and the error says the TLS handshake failed."""
    refusal, received, _ = _refused_by(pki["ca"], None, None)
    assert "TLS handshake failed" in str(refusal)
    sent = b"".join(received)
    assert sent[:1] == b"\x16", "a TLS handshake record, nothing else"
    assert b"POST" not in sent and b"Envelope" not in sent and b"admin" not in sent
