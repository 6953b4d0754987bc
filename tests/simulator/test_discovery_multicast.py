"""Multicast WS-Discovery with 100 cameras, inside a private network namespace."""

from __future__ import annotations

import pytest

from tests.support.netns import netns_unavailable, run_in_netns


@pytest.fixture(scope="module")
def netns_run():
    """Hello, ProbeMatches and Bye as seen inside the namespace."""
    reason = netns_unavailable()
    if reason:
        pytest.skip(reason)
    return run_in_netns("netns_sim_discovery.py")


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
