"""WS-Discovery reply payloads: one captured from camerahub-sim, and hostile variants of it."""

from __future__ import annotations

from pathlib import Path

CAPTURED = (Path(__file__).parent / "payloads" / "probe_matches_camerahub_sim.xml").read_bytes()
RELATES = "urn:uuid:RELATES"
EPR = "urn:uuid:3785aea5-47cf-5216-baf1-5efd61e9558e"


def reply(relates: str = RELATES, epr: str = EPR, source: str = "127.0.1.1") -> bytes:
    """The captured reply answering `relates`, for endpoint `epr`, XAddr on `source`."""
    return (CAPTURED.replace(RELATES.encode(), relates.encode())
            .replace(EPR.encode(), epr.encode())
            .replace(b"127.0.1.1", source.encode()))


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    + CAPTURED.split(b"?>", 1)[1].replace(b"urn:uuid:RELATES", b"&lol3;"))
EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    + CAPTURED.split(b"?>", 1)[1].replace(b"urn:uuid:RELATES", b"&x;"))
HELLO = CAPTURED.replace(b"/discovery/ProbeMatches", b"/discovery/Hello")
NOT_NVT = CAPTURED.replace(b"dn:NetworkVideoTransmitter tds:Device", b"tds:Printer")
NO_EPR = CAPTURED.replace(EPR.encode(), b"")
OVERSIZED = CAPTURED.replace(b"</wsd:Scopes>", b" " + b"x" * 40000 + b"</wsd:Scopes>")
UTF16_DTD = ('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>'
             .encode("utf-16"))
GARBAGE = [b"", b"\x00\xff\xfe garbage", b"<<<>>>", b"<a><b></a>", b"<?xml version='1.0'?>",
           b"{\"json\": true}", b"<s:Envelope xmlns:s='urn:x'/>", b"\xef\xbb\xbf" + b"<" * 5000]
