"""Reconciliation rules, table-style: sightings against a small inventory."""

from __future__ import annotations

import pytest

from camerahub.discovery import KnownCamera, ScanPlan, Sighting, reconcile
from camerahub.onvif import (
    DeviceInfo,
    DeviceNotAuthorized,
    DeviceReport,
    DeviceUnreachable,
    MalformedAnswer,
)

PLAN = ScanPlan((), scope_sites=frozenset({"hq"}))
CAM1 = KnownCamera("cam-1", "hq", "127.0.9.1", 80, endpoint="urn:e1", serial="S1")
CAM2 = KnownCamera("cam-2", "hq", "127.0.9.2", 80, expected_serial="S2")
CAM3 = KnownCamera("cam-3", "hq", "127.0.9.3", 80)  # never seen, no serial in the YAML
OTHER = KnownCamera("far-1", "facility", "127.0.8.1", 80)  # not in this run's scope
KNOWN = [CAM1, CAM2, CAM3, OTHER]


def seen(address, endpoint=None, serial=None, offset=0.1, missing=(), error=None,
         malformed=()):
    """A device that answered the probe, with a report unless an error is given."""
    report = None if error else DeviceReport(
        address, 80, f"http://{address}/onvif/device_service", DeviceInfo(serial=serial),
        clock_offset_s=offset, missing=tuple(missing), malformed=tuple(malformed))
    return Sighting(address, 80, f"http://{address}/onvif/device_service", "hq", endpoint,
                    probed=True, report=report, error=error)


def run(*sightings):
    """{address or camera id: (camera_id, status, finding kinds)}."""
    out = {}
    for r in reconcile(list(sightings), KNOWN, PLAN):
        out[r.camera_id or r.address] = (r.camera_id, r.status, sorted(f.kind for f in r.findings))
    return out


HEALTHY = [seen("127.0.9.1", "urn:e1", "S1"), seen("127.0.9.2", "urn:e2", "S2"),
           seen("127.0.9.3", "urn:e3", "S3")]


def test_healthy_inventory_has_no_findings():
    assert run(*HEALTHY) == {"cam-1": ("cam-1", "online", []), "cam-2": ("cam-2", "online", []),
                             "cam-3": ("cam-3", "online", [])}


@pytest.mark.parametrize(("sightings", "key", "expected"), [
    # unconfigured device
    ([*HEALTHY, seen("127.0.9.50", "urn:x", "SX")], "127.0.9.50", (None, "online", ["new"])),
    # configured, in scope, not found; OTHER is out of scope and absent from the results
    (HEALTHY[:2], "cam-3", ("cam-3", "offline", ["missing"])),
    # a direct ONVIF attempt that found nothing is still "missing"
    ([*HEALTHY[:2], Sighting("127.0.9.3", 80, "x", "hq",
                             error=DeviceUnreachable("127.0.9.3", "refused"))],
     "cam-3", ("cam-3", "offline", ["missing"])),
    # same endpoint at a new address
    ([seen("127.0.9.77", "urn:e1", "S1"), *HEALTHY[1:]], "cam-1", ("cam-1", "online", ["moved"])),
    # same serial (the YAML's) at a new address
    ([HEALTHY[0], seen("127.0.9.78", "urn:e2", "S2"), HEALTHY[2]], "cam-2",
     ("cam-2", "online", ["moved"])),
    # another unit at cam-1's address: new serial and endpoint vs last seen
    ([seen("127.0.9.1", "urn:rogue", "SR"), *HEALTHY[1:]], "cam-1",
     ("cam-1", "online", ["replaced"])),
    # another unit at cam-2's address: serial differs from the YAML's
    ([HEALTHY[0], seen("127.0.9.2", "urn:e2", "SR"), HEALTHY[2]], "cam-2",
     ("cam-2", "online", ["replaced"])),
    # replaced and refusing our credentials: the endpoint alone gives it away
    ([seen("127.0.9.1", "urn:rogue", error=DeviceNotAuthorized("127.0.9.1", "no")),
      *HEALTHY[1:]], "cam-1", ("cam-1", "unauthorized", ["replaced", "unauthorized"])),
    ([seen("127.0.9.1", "urn:e1", "S1", offset=2.5), *HEALTHY[1:]], "cam-1",
     ("cam-1", "online", ["clock_skew"])),
    ([seen("127.0.9.1", "urn:e1", "S1", offset=-30), *HEALTHY[1:]], "cam-1",
     ("cam-1", "online", ["clock_skew"])),
    ([seen("127.0.9.1", "urn:e1", "S1", offset=1.9), *HEALTHY[1:]], "cam-1",
     ("cam-1", "online", [])),
    ([seen("127.0.9.1", "urn:e1", "S1", missing=["GetSnapshotUri"]), *HEALTHY[1:]], "cam-1",
     ("cam-1", "online", ["partial"])),
    # answered garbage to one call, does not support another: two findings, each named once
    ([seen("127.0.9.1", "urn:e1", "S1", missing=["GetProfiles", "GetSnapshotUri"],
           malformed=["GetProfiles: empty SOAP Body"]), *HEALTHY[1:]], "cam-1",
     ("cam-1", "online", ["malformed", "partial"])),
    ([seen("127.0.9.1", "urn:e1", "S1", missing=["GetProfiles"],
           malformed=["GetProfiles: no profile"]), *HEALTHY[1:]], "cam-1",
     ("cam-1", "online", ["malformed"])),
    # nothing usable at all: an error, reported as what it is (never "unreachable")
    ([seen("127.0.9.1", "urn:e1", error=MalformedAnswer("127.0.9.1", "unreadable answer")),
      *HEALTHY[1:]], "cam-1", ("cam-1", "error", ["malformed"])),
    # answered the probe but not HTTP
    ([seen("127.0.9.1", "urn:e1", error=DeviceUnreachable("127.0.9.1", "reset")),
      *HEALTHY[1:]], "cam-1", ("cam-1", "offline", ["unreachable"])),
])
def test_findings(sightings, key, expected):
    results = run(*sightings)
    assert results[key] == expected
    assert "far-1" not in results


def test_yaml_serial_of_the_new_unit_accepts_the_replacement():
    """Ops wrote the new unit's serial into the YAML: no longer a replacement."""
    known = [KnownCamera("cam-1", "hq", "127.0.9.1", 80, expected_serial="SNEW",
                         endpoint="urn:e1", serial="S1")]
    [result] = reconcile([seen("127.0.9.1", "urn:new", "SNEW")], known, PLAN)
    assert (result.camera_id, result.findings, result.replaced) == ("cam-1", [], False)


def test_replaced_is_a_high_severity_finding():
    [result, *_] = reconcile([seen("127.0.9.1", "urn:rogue", "SR"), *HEALTHY[1:]], KNOWN, PLAN)
    [finding] = result.findings
    assert finding.severity == "high"
    assert finding.data["last_serial"] == "S1" and finding.data["serial"] == "SR"
