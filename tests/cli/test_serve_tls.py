"""`camerahub serve` terminates TLS itself, and refuses plain HTTP off loopback."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time

import httpx
import pytest
import yaml

from camerahub.cli import main
from tests.support.deployment import NAKANO, SECRET, deploy_example
from tests.support.tls import self_signed


def _config(tmp_path, **api) -> str:
    data = yaml.safe_load(NAKANO.read_text(encoding="utf-8"))
    data["api"] = {**data.get("api", {}), **api}
    path = tmp_path / "camerahub.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return str(path)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_speaks_https_with_the_configured_certificate(tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    deploy_example(url)
    cert, key = map(str, self_signed(tmp_path))
    config = _config(tmp_path, tls_cert_file=cert, tls_key_file=key)
    port = _free_port()
    env = {**os.environ, "CAMERAHUB_DATABASE_URL": url, "CAMERAHUB_SECRET_KEY": SECRET,
           "CAMERAHUB_DATA_DIR": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "camerahub", "serve", "--no-background",
                             "--config", config, "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        answer = _wait_https(f"https://127.0.0.1:{port}/healthz", cert, proc)
        assert answer.status_code == 200
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _wait_https(url: str, cert: str, proc: subprocess.Popen, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode()
        try:
            return httpx.get(url, verify=ssl.create_default_context(cafile=cert), timeout=2)
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError("server did not come up over HTTPS")


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::", "camera-server.example"])
def test_plain_http_off_loopback_is_refused(host, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CAMERAHUB_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    monkeypatch.setenv("CAMERAHUB_SECRET_KEY", SECRET)
    assert main(["serve", "--config", _config(tmp_path), "--host", host]) == 2
    err = capsys.readouterr().err
    assert "refusing to serve plain HTTP" in err and "tls_cert_file" in err


def test_half_a_tls_pair_is_a_config_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CAMERAHUB_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    assert main(["serve", "--config", _config(tmp_path, tls_cert_file="c.pem")]) == 2
    assert "tls_key_file" in capsys.readouterr().err


def test_unreadable_tls_file_is_named(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CAMERAHUB_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    monkeypatch.setenv("CAMERAHUB_SECRET_KEY", SECRET)
    config = _config(tmp_path, tls_cert_file="missing.pem", tls_key_file="missing.key")
    assert main(["serve", "--config", config]) == 2
    assert "missing.pem" in capsys.readouterr().err
