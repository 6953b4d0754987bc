"""Multicast discovery, only ever inside a private network namespace (unshare -n)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CHILD = Path(__file__).with_name("netns_multicast.py")
SETUP = ("ip link set lo up; ip link set lo multicast on; "
         "ip route add 224.0.0.0/4 dev lo; exec \"$0\" \"$1\"")


def _netns_unavailable() -> str | None:
    """Why a private network namespace cannot be made here, or None."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "unshare or ip is not installed"
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"unshare -n is not permitted: {probe.stderr.strip()}"
    return None


@pytest.mark.netns
def test_multicast_finds_and_interrogates_100_cameras(tmp_path):
    reason = _netns_unavailable()
    if reason:
        pytest.skip(reason)
    proc = subprocess.run(
        ["unshare", "-n", "sh", "-c", SETUP, sys.executable, str(CHILD)],
        capture_output=True, text=True, timeout=280, env={
            **__import__("os").environ, "NETNS_TMP": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (out["ttl"], out["loop"], out["bound"]) == (1, 1, "127.0.0.1")
    assert out["probe_found"] == 100
    assert (out["scan_found"], out["interrogated"]) == (100, 100)
    # without a config there is no credential: found by multicast, then refused at login
    assert out["cli_code"] == 0, out["cli_stderr"]
    assert (out["cli_found"], out["cli_unauthorized"]) == (100, 100)
