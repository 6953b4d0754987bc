"""Multicast WS-Discovery with 100 cameras, inside a private network namespace."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("netns_discovery.py")
NETNS_SETUP = ("ip link set lo up; ip link set lo multicast on; "
               "ip route add 224.0.0.0/4 dev lo; exec \"$0\" \"$1\"")


@pytest.fixture(scope="module")
def netns_run(unshare_available):
    """Hello, ProbeMatches and Bye as seen inside the namespace."""
    if subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode != 0:
        pytest.skip("unshare -n is not permitted here (needs root or user namespaces)")
    proc = subprocess.run(["unshare", "-n", "sh", "-c", NETNS_SETUP, sys.executable,
                           str(SCRIPT)], capture_output=True, text=True, timeout=280)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.netns
def test_multicast_probe_gets_100_distinct_matches(netns_run):
    matches = netns_run["matches"]
    assert len(matches) == 100
    assert len({m["from"][0] for m in matches}) == 100
    assert len({m["epr"] for m in matches}) == 100
    assert all(m["from"][1] == 3702 for m in matches)
    assert all(m["xaddrs"] == f"http://{m['from'][0]}:{m['xaddrs'].split(':')[2]}"
               for m in matches)


@pytest.mark.netns
def test_probe_for_another_type_gets_no_answer(netns_run):
    assert {m["relates_to"] for m in netns_run["matches"]} == {netns_run["plain_mid"]}


@pytest.mark.netns
def test_hello_on_start_and_bye_on_stop(netns_run):
    assert len(netns_run["hello"]) == 100
    assert netns_run["bye"] == netns_run["hello"]
    assert netns_run["exit_code"] == 0
