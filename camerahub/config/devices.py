"""Desired device settings: encoders, NTP, time zone and hostname, merged camera > site > global.

Every field is optional: unset means "leave the camera's value as it is".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from .base import Id, Strict

Resolution = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{1,4}x[1-9][0-9]{1,4}$")]
ProfileToken = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
# Names or addresses only; camerahub never contacts them, the cameras do.
NtpHost = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9.:-]{1,253}$")]
# POSIX TZ as ONVIF carries it (JST-9, CET-1CEST,M3.5.0,M10.5.0/3); not an Olson name.
PosixTz = Annotated[str, StringConstraints(
    pattern=r"^(?:[A-Za-z]{3,}|<[A-Za-z0-9+-]+>)[+-]?\d{1,2}(?::\d{2})?[A-Za-z0-9<>+\-,./:]*$",
    max_length=64)]
HOSTNAME_FIELDS = ("id", "site")  # placeholders a hostname template may use
NAME_FIELDS = ("id", "site", "name")  # placeholders a device-name template may use
_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


class EncoderSettings(Strict):
    """One profile's video encoder; checked against the camera's offered options at plan."""

    resolution: Resolution | None = Field(default=None, description="WIDTHxHEIGHT")
    fps: int | None = Field(default=None, ge=1, le=120, title="Frame rate limit")
    bitrate_kbps: int | None = Field(default=None, ge=16, le=200_000, title="Bitrate limit")
    gop: int | None = Field(default=None, ge=1, le=1000, title="GOP length (frames)")
    h264_profile: Literal["Baseline", "Main", "High"] | None = None

    def size(self) -> tuple[int, int] | None:
        """(width, height) of the resolution, or None."""
        if self.resolution is None:
            return None
        w, _, h = self.resolution.partition("x")
        return int(w), int(h)


class DeviceSettings(Strict):
    """Settings for one camera, a site's cameras or all cameras."""

    encoders: dict[ProfileToken, EncoderSettings] = Field(
        default_factory=dict, description="By ONVIF profile token, e.g. main and sub")
    ntp: list[NtpHost] | None = Field(default=None, min_length=1, max_length=4,
                                      description="NTP servers; the camera switches to NTP time")
    timezone: PosixTz | None = Field(default=None, description="POSIX TZ, e.g. JST-9")
    hostname: str | None = Field(default=None, min_length=1, max_length=63,
                                 description="Host name; {id} and {site} are filled in")
    name: str | None = Field(default=None, min_length=1, max_length=64,
                             description="ONVIF device name (name scope); {id}, {site} and "
                                         "{name} (the camera's name in this file) are filled in")

    @field_validator("hostname")
    @classmethod
    def _hostname_template(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            sample = value.format(**{k: "x" for k in HOSTNAME_FIELDS})
        except (KeyError, IndexError, ValueError):
            raise ValueError("hostname may only use the placeholders {id} and {site}") from None
        if not _LABEL.match(sample):
            raise ValueError("hostname must be letters, digits and inner hyphens (RFC 1123)")
        return value

    @field_validator("name")
    @classmethod
    def _name_template(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            value.format(**{k: "x" for k in NAME_FIELDS})
        except (KeyError, IndexError, ValueError):
            raise ValueError("name may only use the placeholders {id}, {site} and {name}") \
                from None
        if any(not ch.isprintable() for ch in value):
            raise ValueError("name may not contain control characters")
        return value


class Devices(Strict):
    """The top-level `devices:` section: global defaults and per-site overrides."""

    defaults: DeviceSettings = Field(default_factory=DeviceSettings)
    sites: dict[Id, DeviceSettings] = Field(default_factory=dict)


@dataclass(frozen=True)
class DesiredEncoder:
    """Merged encoder settings of one profile; None leaves the value alone."""

    profile: str
    size: tuple[int, int] | None = None
    fps: int | None = None
    bitrate_kbps: int | None = None
    gop: int | None = None
    h264_profile: str | None = None


@dataclass(frozen=True)
class DesiredDevice:
    """What one camera should be set to, after merging camera > site > global."""

    camera_id: str
    encoders: tuple[DesiredEncoder, ...] = ()
    ntp: tuple[str, ...] | None = None
    timezone: str | None = None
    hostname: str | None = None
    name: str | None = None

    def empty(self) -> bool:
        """Nothing is managed on this camera."""
        return not (self.encoders or self.ntp or self.timezone or self.hostname or self.name)


def _first(values: list, name: str):
    """The first layer's value of a field that is set, else None."""
    return next((getattr(v, name) for v in values if getattr(v, name) is not None), None)


def merge(camera_id: str, site_id: str, layers: list[DeviceSettings],
          camera_name: str = "") -> DesiredDevice:
    """Merge layers (most specific first) field by field into a DesiredDevice."""
    tokens = sorted({t for layer in layers for t in layer.encoders})
    encoders = []
    for token in tokens:
        found = [layer.encoders[token] for layer in layers if token in layer.encoders]
        enc = DesiredEncoder(token, next((e.size() for e in found if e.resolution), None),
                             _first(found, "fps"), _first(found, "bitrate_kbps"),
                             _first(found, "gop"), _first(found, "h264_profile"))
        encoders.append(enc)
    template = _first(layers, "hostname")
    hostname = template.format(id=camera_id, site=site_id) if template else None
    name = _first(layers, "name")
    if name:
        name = name.format(id=camera_id, site=site_id, name=camera_name)
    ntp = _first(layers, "ntp")
    return DesiredDevice(camera_id, tuple(encoders), tuple(ntp) if ntp else None,
                         _first(layers, "timezone"), hostname, name)


def check_hostname(name: str) -> str | None:
    """Why a filled-in host name is not valid, or None."""
    if not _LABEL.match(name):
        return f"hostname {name!r} is not a valid host name (RFC 1123 label)"
    return None
