"""Multicast discovery, only ever inside a private network namespace (unshare -n)."""

from __future__ import annotations

import pytest

from tests.support.netns import netns_unavailable, run_in_netns


@pytest.mark.netns
def test_multicast_finds_and_interrogates_100_cameras(tmp_path):
    reason = netns_unavailable()
    if reason:
        pytest.skip(reason)
    out = run_in_netns("netns_camerahub_discovery.py", env={"NETNS_TMP": str(tmp_path)})
    assert (out["ttl"], out["loop"], out["bound"]) == (1, 1, "127.0.0.1")
    assert out["probe_found"] == 100
    assert (out["scan_found"], out["interrogated"]) == (100, 100)
    # without a config there is no credential: found by multicast, then refused at login
    assert out["cli_code"] == 0, out["cli_stderr"]
    assert (out["cli_found"], out["cli_unauthorized"]) == (100, 100)
