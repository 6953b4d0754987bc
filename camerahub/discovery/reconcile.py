"""Match sightings to the inventory and derive findings; pure functions, no database."""

from __future__ import annotations

from collections.abc import Iterable

from .model import CLOCK_SKEW_LIMIT_S, DeviceResult, Finding, KnownCamera, Sighting
from .plan import ScanPlan


class _Index:
    """Known cameras by trusted endpoint, serial (last seen and expected) and address."""

    def __init__(self, known: Iterable[KnownCamera]):
        self.cams = list(known)
        self.by_endpoint = {c.endpoint: c for c in self.cams if c.endpoint}
        self.by_serial = {c.serial: c for c in self.cams if c.serial}
        # The YAML's serial wins over the last one seen: ops wrote it down on purpose.
        self.by_serial.update({c.expected_serial: c for c in self.cams if c.expected_serial})
        self.by_address = {c.address: c for c in self.cams}
        self.claimed: set[str] = set()

    def match(self, s: Sighting) -> tuple[KnownCamera | None, bool]:
        """(camera, matched by identity) for a sighting; each camera is claimed once."""
        for cam, by_identity in ((self.by_endpoint.get(s.endpoint or ""), True),
                                 (self.by_serial.get(s.serial or ""), True),
                                 (self.by_address.get(s.address), False)):
            if cam is not None and cam.id not in self.claimed:
                self.claimed.add(cam.id)
                return cam, by_identity
        return None, False


def reconcile(sightings: Iterable[Sighting], known: Iterable[KnownCamera],
              plan: ScanPlan) -> list[DeviceResult]:
    """One result per device seen, plus one per expected camera that was not found."""
    index = _Index(known)
    found = [s for s in sightings if s.seen]
    silent = {s.address: s for s in sightings if not s.seen}
    # identity matches first, so an address match never steals a moved camera's row
    found.sort(key=lambda s: not (s.endpoint in index.by_endpoint or s.serial in index.by_serial))
    results = [_result(s, *index.match(s)) for s in found]
    for cam in index.cams:
        if cam.id not in index.claimed and plan.in_scope(cam):
            results.append(_missing(cam, silent.get(cam.address)))
    results.sort(key=lambda r: _address_key(r.address))
    return results


def _result(s: Sighting, cam: KnownCamera | None, by_identity: bool) -> DeviceResult:
    """Status and findings of one device that answered."""
    result = DeviceResult(s.address, s.port, cam.site if cam else s.site,
                          cam.id if cam else None, _status(s), s)
    if cam is None:
        what = f"{s.report.info.manufacturer} {s.report.info.model}" if s.report else "device"
        result.findings.append(Finding("new", f"unconfigured {what} at {s.address}",
                                       {"endpoint": s.endpoint, "serial": s.serial}))
    elif by_identity and cam.address != s.address:
        result.findings.append(Finding(
            "moved", f"{cam.id} moved from {cam.address} to {s.address}",
            {"from": cam.address, "to": s.address}))
    if cam is not None and cam.address == s.address and _identity_changed(cam, s):
        result.replaced = True
        result.findings.append(Finding(
            "replaced", f"a different device answers at {cam.id}'s address {s.address}",
            {"expected_serial": cam.expected_serial, "last_serial": cam.serial,
             "last_endpoint": cam.endpoint, "serial": s.serial, "endpoint": s.endpoint}))
    result.findings.extend(_device_findings(s))
    return result


def _identity_changed(cam: KnownCamera, s: Sighting) -> bool:
    """True when the device is not the unit we know: the YAML's serial first, then the
    serial and EndpointReference last seen."""
    if cam.expected_serial and s.serial:
        return s.serial != cam.expected_serial
    if cam.serial and s.serial:
        return s.serial != cam.serial
    return bool(cam.endpoint and s.endpoint and s.endpoint != cam.endpoint)


def _status(s: Sighting) -> str:
    """One of model.STATUSES."""
    if s.report is not None:
        return "online"
    if s.error is None:
        return "online"
    return {"unauthorized": "unauthorized", "unreachable": "offline",
            "untrusted": "untrusted"}.get(s.error.kind, "error")


# Interrogation errors that are findings of their own kind (any other kind: "unreachable").
_ERROR_FINDINGS = ("unauthorized", "unreachable", "not_onvif", "malformed")
_FINDING_OF_ERROR = {"untrusted": "untrusted_certificate"}  # error kind -> finding kind


def _device_findings(s: Sighting) -> list[Finding]:
    """Findings from the interrogation itself: credentials, reachability, clock, gaps."""
    out: list[Finding] = []
    if s.error is not None:
        kind = _FINDING_OF_ERROR.get(s.error.kind) or (
            s.error.kind if s.error.kind in _ERROR_FINDINGS else "unreachable")
        out.append(Finding(kind, s.error.reason, {"address": s.address}))
    rep = s.report
    if rep is None:
        return out
    if rep.clock_offset_s is not None and abs(rep.clock_offset_s) > CLOCK_SKEW_LIMIT_S:
        out.append(Finding("clock_skew", f"clock is {rep.clock_offset_s:+.1f} s off",
                           {"offset_s": rep.clock_offset_s}))
    if rep.malformed:
        out.append(Finding("malformed", "unusable answers: " + "; ".join(rep.malformed),
                           {"answers": list(rep.malformed)}))
    garbled = {entry.partition(": ")[0] for entry in rep.malformed}
    unsupported = [name for name in rep.missing if name not in garbled]
    if unsupported:
        out.append(Finding("partial", "unsupported: " + ", ".join(unsupported),
                           {"unsupported": unsupported}))
    return out


def _missing(cam: KnownCamera, attempt: Sighting | None) -> DeviceResult:
    """A configured camera that neither answered a probe nor ONVIF."""
    why = attempt.error.reason if attempt and attempt.error else "no answer to the probe"
    finding = Finding("missing", f"{cam.id} not found at {cam.address} ({why})",
                      {"address": cam.address})
    return DeviceResult(cam.address, cam.port, cam.site, cam.id, "offline", attempt, [finding])


def _address_key(address: str) -> tuple:
    """Sort IPv4 addresses numerically, anything else after them."""
    parts = address.split(".")
    return tuple(int(p) for p in parts) if all(p.isdigit() for p in parts) else (999, address)
