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
    """Everything one interrogation learned; `missing` names calls the device lacks, and
    `malformed` says which of them answered something unusable ("GetProfiles: no profile")."""

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
    malformed: tuple[str, ...] = ()


@dataclass(frozen=True)
class EncoderSettings:
    """One profile's video encoder configuration as the device reports it."""

    profile: str  # the media profile token (main, sub, Profile_1...)
    config_token: str
    encoding: str | None = None
    width: int | None = None
    height: int | None = None
    fps: int | None = None
    bitrate_kbps: int | None = None
    gop: int | None = None
    h264_profile: str | None = None


@dataclass(frozen=True)
class EncoderOptions:
    """What a profile's encoder accepts (GetVideoEncoderConfigurationOptions, H.264)."""

    resolutions: tuple[tuple[int, int], ...] = ()
    fps_range: tuple[int, int] | None = None
    gop_range: tuple[int, int] | None = None
    bitrate_range: tuple[int, int] | None = None
    h264_profiles: tuple[str, ...] = ()


@dataclass(frozen=True)
class DeviceSettings:
    """The settings camerahub manages on a device; None means the device did not say."""

    address: str
    encoders: tuple[EncoderSettings, ...] = ()
    options: tuple[tuple[str, EncoderOptions], ...] = ()  # (profile token, options)
    ntp_servers: tuple[str, ...] | None = None
    ntp_from_dhcp: bool | None = None
    time_mode: str | None = None  # NTP or Manual
    timezone: str | None = None  # POSIX TZ
    hostname: str | None = None
    name: str | None = None  # the ONVIF name scope, percent-decoded
    missing: tuple[str, ...] = ()

    def encoder(self, profile: str) -> EncoderSettings | None:
        """The encoder of a profile token, or None."""
        return next((e for e in self.encoders if e.profile == profile), None)

    def options_for(self, profile: str) -> EncoderOptions | None:
        """The options of a profile token, or None."""
        return next((o for p, o in self.options if p == profile), None)


@dataclass(frozen=True)
class EncoderChange:
    """New values for one profile's encoder; None keeps the device's value."""

    profile: str
    config_token: str
    width: int | None = None
    height: int | None = None
    fps: int | None = None
    bitrate_kbps: int | None = None
    gop: int | None = None
    h264_profile: str | None = None


@dataclass(frozen=True)
class SettingsChange:
    """What to push to one device; None (or empty) leaves that part alone."""

    encoders: tuple[EncoderChange, ...] = ()
    ntp_servers: tuple[str, ...] | None = None
    time_mode: str | None = None  # SetSystemDateAndTime: NTP or Manual (with timezone)
    timezone: str | None = None
    hostname: str | None = None
    name: str | None = None  # replaces the name scope among the configurable scopes

    def empty(self) -> bool:
        """Nothing to send."""
        return not (self.encoders or self.ntp_servers is not None or self.time_mode
                    or self.hostname or self.name)
