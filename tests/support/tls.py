"""Self-signed certificates for TLS tests (made with the cryptography package, no openssl)."""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def self_signed(folder: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """cert.pem and key.pem in folder: an EC P-256 certificate for host (an IP or a name)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    try:
        alt: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        alt = x509.DNSName(host)
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([alt]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def issued(folder: Path, hosts: list[str], name: str = "camera") -> tuple[Path, Path, Path]:
    """A CA of its own and a certificate it issued for every host (IPs or names):
    (ca.pem, NAME.pem, NAME-key.pem) in folder, as an office CA and its cameras would be."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} test CA")])
    now = dt.datetime.now(dt.UTC)
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                       crl_sign=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False,
                                       decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    alts: list[x509.GeneralName] = []
    for host in hosts:
        try:
            alts.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            alts.append(x509.DNSName(host))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(alts), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))
    ca_path, cert_path = folder / "ca.pem", folder / f"{name}.pem"
    key_path = folder / f"{name}-key.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return ca_path, cert_path, key_path


@contextlib.contextmanager
def tls_server(cert: Path | None, key: Path | None
               ) -> Iterator[tuple[int, list[bytes], list[str]]]:
    """A server on 127.0.0.1 that records whatever a client sends: after a TLS handshake
    with cert and key, or (cert None) the raw bytes of a port that speaks no TLS, closed
    after the first read. Yields (port, received, handshakes: "done" or the error's name)."""
    listener = socket.create_server(("127.0.0.1", 0))
    context = None
    if cert is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
    received: list[bytes] = []
    handshakes: list[str] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.settimeout(10)
            try:
                if context is None:
                    with conn:
                        received.append(conn.recv(65536))
                    continue
                with context.wrap_socket(conn, server_side=True) as tls:
                    handshakes.append("done")
                    while chunk := tls.recv(4096):
                        received.append(chunk)
            except (OSError, ssl.SSLError) as exc:
                handshakes.append(type(exc).__name__)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], received, handshakes
    finally:
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the accept (close alone does not)
        listener.close()
        thread.join(10)
        assert not thread.is_alive()


def simulator_pki(folder: Path, subnet: int) -> tuple[Path, Path, Path]:
    """(ca.pem, cert, key) for a two-camera simulator on 127.W.SUBNET.1 / 127.W.SUBNET+1.1."""
    from simulator.testing import subnet_prefixes

    hq, facility = subnet_prefixes(subnet)
    return issued(folder, [f"{hq}1", f"{facility}1"])


@contextlib.contextmanager
def tls_simulator(pki: tuple[Path, Path, Path], subnet: int, **options: object):
    """Two small cameras (one HQ, one facility) speaking TLS with pki's certificate; options
    go to the simulator (onvif_https=True for ONVIF over HTTPS too)."""
    from simulator.testing import running_simulator

    _, cert, key = pki
    with running_simulator(cameras=2, hq=1, subnet=subnet, main_size="640x360",
                           tls_cert=cert, tls_key=key, **options) as sim:
        yield sim
