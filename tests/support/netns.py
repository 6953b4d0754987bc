"""Run a child script inside a private network namespace (`unshare -n`), where multicast on
`lo` stays inside the namespace. The children are netns_*.py next to this module."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# lo is down in a new namespace; multicast needs it up, multicast-capable and routed
SETUP = ("ip link set lo up; ip link set lo multicast on; "
         "ip route add 224.0.0.0/4 dev lo; exec \"$0\" \"$1\"")


def netns_unavailable() -> str | None:
    """Why a private network namespace cannot be made here, or None."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "unshare or ip is not installed: cannot create a private network namespace"
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"unshare -n is not permitted (needs root or user namespaces): " \
               f"{probe.stderr.strip()}"
    return None


def run_in_netns(child: str, timeout: float = 280, env: dict | None = None) -> dict:
    """Run tests/support/CHILD in a fresh namespace; the JSON object it printed last."""
    proc = subprocess.run(
        ["unshare", "-n", "sh", "-c", SETUP, sys.executable, str(HERE / child)],
        capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])
