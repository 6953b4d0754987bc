"""Plain dataclasses that leave the onvif package: no zeep object ever escapes it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class ProbeMatch:
    """One device that answered a WS-Discovery Probe."""

    endpoint: str  # EndpointReference address, e.g. urn:uuid:...: the device's identity
    address: str  # IPv4 source address of the reply
    xaddr: str  # device service URL, pinned to the reply's source address
    types: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    metadata_version: int | None = None


@dataclass(frozen=True)
class Login:
    """A username and resolved password for one device; never logged."""

    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class DeviceInfo:
    """GetDeviceInformation."""

    manufacturer: str | None = None
    model: str | None = None
    firmware: str | None = None
    serial: str | None = None
    hardware_id: str | None = None


@dataclass(frozen=True)
class MediaProfile:
    """One media profile with its video encoder settings and RTSP URI."""

    token: str
    name: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    codec: str | None = None
    stream_uri: str | None = None


@dataclass(frozen=True)
class DeviceReport:
    """Everything one interrogation learned; `missing` names calls the device lacks."""

    address: str
    port: int
    xaddr: str
    info: DeviceInfo = field(default_factory=DeviceInfo)
    mac: str | None = None
    profiles: tuple[MediaProfile, ...] = ()
    snapshot_uri: str | None = None
    clock_offset_s: float | None = None
    camera_utc: datetime | None = None
    missing: tuple[str, ...] = ()
    seconds: float = 0.0
