"""`camerahub serve` for real: uvicorn on 127.0.0.1 and a random port, then a sign-in."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx

from tests.support.deployment import NAKANO, PASSWORD, SECRET, deploy_example, set_all_passwords
from tests.support.net import free_port


def _wait(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode()
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("server did not come up")


def test_serve_binds_loopback_and_answers(tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    cfg = deploy_example(url)
    set_all_passwords(url, cfg)
    port = free_port()
    env = {**os.environ, "CAMERAHUB_DATABASE_URL": url, "CAMERAHUB_SECRET_KEY": SECRET,
           "CAMERAHUB_DATA_DIR": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-c", "from camerahub.cli import main; main()",
                             "serve", "--config", str(NAKANO), "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait(f"{base}/healthz", proc)
        token = httpx.post(f"{base}/api/v1/auth/token",
                           data={"username": "tokatsu-koseki", "password": PASSWORD}).json()
        cams = httpx.get(f"{base}/api/v1/cameras",
                         headers={"Authorization": f"Bearer {token['access_token']}"}).json()
        assert len(cams) == 20
        bound = [line for line in proc_lines(proc) if "camerahub API on" in line]
        assert bound and f"http://127.0.0.1:{port}" in bound[0]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def proc_lines(proc: subprocess.Popen) -> list[str]:
    """Lines the server logged so far (it logs the bound address at start)."""
    os.set_blocking(proc.stderr.fileno(), False)
    data = proc.stderr.read() or b""
    return data.decode(errors="replace").splitlines()
