"""Target parsing: ranges, CIDR blocks, single addresses; the cap and unsafe addresses."""

from __future__ import annotations

import pytest

from camerahub.onvif import MAX_TARGETS, TargetError, parse_targets, split_targets


@pytest.mark.parametrize(("specs", "expected"), [
    (["127.0.1.1"], ["127.0.1.1"]),
    (["127.0.1.1-127.0.1.3"], ["127.0.1.1", "127.0.1.2", "127.0.1.3"]),
    (["127.0.1.254-127.0.2.1"], ["127.0.1.254", "127.0.1.255", "127.0.2.0", "127.0.2.1"]),
    (["127.0.1.8-9"], ["127.0.1.8", "127.0.1.9"]),
    (["127.0.1.0/30"], ["127.0.1.1", "127.0.1.2"]),
    (["127.0.1.2", "127.0.1.1-2"], ["127.0.1.2", "127.0.1.1"]),  # deduplicated, in order
    ([" 127.0.1.5 "], ["127.0.1.5"]),
])
def test_valid_targets(specs, expected):
    assert parse_targets(specs) == expected


@pytest.mark.parametrize("spec", [
    "", "127.0.1", "127.0.1.300", "host.example", "127.0.1.5-127.0.1.1", "127.0.1.1-x",
    "127.0.1.0/33", "239.255.255.250", "224.0.0.0/28", "0.0.0.0", "255.255.255.255",
    "::1", "10.0.0.0/8", "127.0.0.1-127.0.255.255",
])
def test_invalid_targets(spec):
    with pytest.raises(TargetError):
        parse_targets([spec])


def test_cap_applies_across_specs():
    assert len(parse_targets(["127.1.0.0/20", "127.2.0.0/30"])) == MAX_TARGETS == 4096
    with pytest.raises(TargetError, match="more than"):
        parse_targets(["127.1.0.0/20", "127.2.0.0/30", "127.3.0.1"])


def test_split_targets_accepts_commas_and_spaces():
    assert split_targets("127.0.1.1-5, 127.0.2.0/29 127.0.3.1") == [
        "127.0.1.1-5", "127.0.2.0/29", "127.0.3.1"]
