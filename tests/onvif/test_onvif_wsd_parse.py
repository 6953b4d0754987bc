"""Parsing WS-Discovery replies: the captured good one, and everything that must be refused."""

from __future__ import annotations

import pytest

from camerahub.onvif.wsdiscovery import (
    NS_DN,
    InvalidReply,
    build_probe,
    parse_probe_matches,
    pin_xaddr,
)
from tests.onvif import wsd_payloads as p


def test_captured_reply_parses():
    [match] = parse_probe_matches(p.CAPTURED, p.RELATES, "127.0.1.1")
    assert match.endpoint == p.EPR
    assert match.address == "127.0.1.1"
    assert match.xaddr == "http://127.0.1.1:8080/onvif/device_service"
    assert f"{{{NS_DN}}}NetworkVideoTransmitter" in match.types
    assert "onvif://www.onvif.org/Profile/Streaming" in match.scopes
    assert match.metadata_version == 1


@pytest.mark.parametrize(("payload", "reason"), [
    (p.reply(relates="urn:uuid:someone-else"), "RelatesTo"),
    (p.HELLO, "not ProbeMatches"),
    (p.BILLION_LAUGHS, "DTD"),
    (p.EXTERNAL_ENTITY, "DTD"),
    (p.UTF16_DTD, "DTD"),
    (p.OVERSIZED, "limit"),
    *[(g, None) for g in p.GARBAGE],
])
def test_hostile_or_unrelated_replies_are_refused(payload, reason):
    with pytest.raises(InvalidReply, match=reason):
        parse_probe_matches(payload, p.RELATES, "127.0.1.1")


@pytest.mark.parametrize("payload", [p.NOT_NVT, p.NO_EPR])
def test_matches_that_are_not_cameras_are_dropped(payload):
    assert parse_probe_matches(payload, p.RELATES, "127.0.1.1") == []


@pytest.mark.parametrize(("xaddrs", "source", "expected"), [
    (["http://127.0.1.1:8080/onvif/device_service"], "127.0.1.1",
     "http://127.0.1.1:8080/onvif/device_service"),
    # a second XAddr on the replying host wins over the first on another host
    (["http://192.0.2.1/onvif/device_service", "http://127.0.1.1/onvif/d"], "127.0.1.1",
     "http://127.0.1.1/onvif/d"),
    # never follow an XAddr elsewhere: keep its port and path, use the replying host
    (["http://192.0.2.1:8080/onvif/device_service"], "127.0.1.9",
     "http://127.0.1.9:8080/onvif/device_service"),
    (["ftp://127.0.1.1/x"], "127.0.1.1", "http://127.0.1.1/onvif/device_service"),
    # a port that is no port is no XAddr (its readers would raise ValueError)
    (["http://127.0.1.1:99999/onvif/device_service"], "127.0.1.1",
     "http://127.0.1.1/onvif/device_service"),
    (["http://192.0.2.1:http/onvif/device_service", "http://192.0.2.1:8081/onvif/d"],
     "127.0.1.9", "http://127.0.1.9:8081/onvif/d"),
    ([], "127.0.1.1", "http://127.0.1.1/onvif/device_service"),
])
def test_xaddr_is_pinned_to_the_replying_host(xaddrs, source, expected):
    assert pin_xaddr(xaddrs, source) == expected


def test_probe_asks_for_network_video_transmitters():
    probe = build_probe("urn:uuid:abc")
    assert b"<d:Types>dn:NetworkVideoTransmitter</d:Types>" in probe
    assert b"<a:MessageID>urn:uuid:abc</a:MessageID>" in probe
    assert f'xmlns:dn="{NS_DN}"'.encode() in probe
