"""What a discovery run produces: findings and one result per device."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from camerahub.onvif import DeviceReport, OnvifError

# Finding kinds and their severity; `replaced` may mean a swapped-in rogue device.
SEVERITY = {
    "new": "medium",
    "missing": "medium",
    "moved": "medium",
    "replaced": "high",
    "clock_skew": "medium",
    "unauthorized": "medium",
    "unreachable": "medium",
    "not_onvif": "medium",
    "malformed": "medium",  # answers that could not be used (empty, truncated, wrong values)
    "partial": "low",
    "drift": "medium",  # device settings changed by hand, away from the deployment file
    "untrusted_uri": "high",  # a stream/snapshot URI on another host or scheme: not used
    # ONVIF over HTTPS and the certificate failed: another device may answer at its address
    "untrusted_certificate": "high",
}
CLOCK_SKEW_LIMIT_S = 2.0
# What a round says of a device (CameraState.status; the ops console's "online" column).
# untrusted: ONVIF over HTTPS and its certificate refused
STATUSES = ("online", "offline", "unauthorized", "untrusted", "error")


@dataclass(frozen=True)
class Finding:
    """Something ops should know about a device or a configured camera."""

    kind: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def severity(self) -> str:
        """Severity by kind."""
        return SEVERITY.get(self.kind, "info")

    def as_json(self) -> dict[str, Any]:
        """JSON view, also what CameraState.findings stores."""
        return {"kind": self.kind, "severity": self.severity, "message": self.message,
                "data": self.data}


@dataclass(frozen=True)
class KnownCamera:
    """A camera of the inventory with what discovery last learned about it."""

    id: str
    site: str
    address: str
    port: int
    credential: str | None = None
    expected_serial: str | None = None
    endpoint: str | None = None  # last trusted EndpointReference
    serial: str | None = None  # last trusted serial number
    status: str = "unknown"
    https: bool = False  # ONVIF over HTTPS (the configuration's onvif_https)


@dataclass
class Sighting:
    """One device as the scan saw it: from a probe reply and/or a direct ONVIF attempt."""

    address: str
    port: int
    xaddr: str
    site: str | None = None
    endpoint: str | None = None
    probed: bool = False  # answered WS-Discovery
    report: DeviceReport | None = None
    error: OnvifError | None = None

    @property
    def serial(self) -> str | None:
        """Serial number, when interrogation got that far."""
        return self.report.info.serial if self.report else None

    @property
    def seen(self) -> bool:
        """Whether the device answered anything at all (probe or ONVIF)."""
        return self.probed or self.report is not None or (
            self.error is not None and self.error.kind != "unreachable")


@dataclass
class DeviceResult:
    """One device or configured camera after reconciliation: status and findings."""

    address: str
    port: int | None
    site: str | None
    camera_id: str | None
    status: str  # one of STATUSES
    sighting: Sighting | None = None
    findings: list[Finding] = field(default_factory=list)
    replaced: bool = False

    @property
    def report(self) -> DeviceReport | None:
        """The interrogation report, if any."""
        return self.sighting.report if self.sighting else None

    @property
    def endpoint(self) -> str | None:
        """EndpointReference from the probe, if it answered one."""
        return self.sighting.endpoint if self.sighting else None

    def as_json(self) -> dict[str, Any]:
        """The `camerahub discover --json` object for this device."""
        rep = self.report
        info = rep.info if rep else None
        err = self.sighting.error if self.sighting else None
        return {
            "address": self.address, "port": self.port, "site": self.site,
            "endpoint": self.endpoint, "camera_id": self.camera_id, "status": self.status,
            "manufacturer": info.manufacturer if info else None,
            "model": info.model if info else None,
            "firmware": info.firmware if info else None,
            "serial": info.serial if info else None,
            "hardware_id": info.hardware_id if info else None,
            "mac": rep.mac if rep else None,
            "profiles": [_profile_json(p) for p in rep.profiles] if rep else [],
            "snapshot_uri": rep.snapshot_uri if rep else None,
            "clock_offset_s": rep.clock_offset_s if rep else None,
            "xaddr": self.sighting.xaddr if self.sighting else None,
            "unsupported": list(rep.missing) if rep else [],
            "error": {"kind": err.kind, "message": err.reason} if err else None,
            "findings": [f.as_json() for f in self.findings],
        }


def _profile_json(p) -> dict[str, Any]:
    return {"token": p.token, "name": p.name, "width": p.width, "height": p.height,
            "fps": p.fps, "codec": p.codec, "stream_uri": p.stream_uri}
