"""Cameras, the credentials they use, terminals and recording settings per camera."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from .base import DisplayName, Id, Strict
from .devices import DeviceSettings
from .secrets import SecretRef

NUMERIC_PART = re.compile(r"[0-9]+|0[xX][0-9a-fA-F]*")  # what inet_aton reads as a number


def canonical_host(value: str) -> str:
    """One spelling per host: IPv6 compressed, names lower-case; ambiguous IPv4 refused.

    `127.0.1.01` and `127.000.001.001` are 127.0.1.1 to some resolvers (octal) and an error or
    another address to others, and `2130706689`, `127.1` or `0x7f.0.1.1` are IPv4 to inet_aton
    (and so to getaddrinfo): a camera could be registered twice under two spellings, so only
    the plain dotted quad is accepted.
    """
    if ":" in value:
        try:
            return ipaddress.IPv6Address(value).compressed
        except ValueError as exc:
            raise ValueError(f"not an IPv6 address: {exc}") from None
    if all(NUMERIC_PART.fullmatch(part) for part in value.split(".")):
        try:
            return str(ipaddress.IPv4Address(value))
        except ValueError:
            raise ValueError(f"{value!r} is not an IPv4 address in dotted-quad form without "
                             "leading zeros (such as 192.0.2.10)") from None
    return value.lower().removesuffix(".")


Host = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9.:-]{1,253}$"),
                 AfterValidator(canonical_host)]
TerminalId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]


class Credential(Strict):
    """A camera login; the password is referenced, never written inline."""

    id: Id
    username: str = Field(min_length=1, max_length=64)
    password_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    password_file: Path | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Credential:
        if (self.password_env is None) == (self.password_file is None):
            raise ValueError("give exactly one of password_env or password_file")
        return self

    def password(self) -> SecretRef:
        """The password's reference (resolve it only when connecting)."""
        return SecretRef(env=self.password_env, file=self.password_file)


class Recording(Strict):
    """Whether and how a camera is recorded."""

    enabled: bool = True
    profile: str | None = Field(default=None, description="ONVIF profile token to record")
    retention_days: int | None = Field(default=None, ge=1, le=3650)


class MaskRegion(Strict):
    """A rectangle painted over in disclosed footage, as fractions of the frame (0..1)."""

    x: float = Field(ge=0, lt=1, description="Left edge, fraction of the width")
    y: float = Field(ge=0, lt=1, description="Top edge, fraction of the height")
    w: float = Field(gt=0, le=1, description="Width, fraction of the frame's width")
    h: float = Field(gt=0, le=1, description="Height, fraction of the frame's height")
    label: str | None = Field(default=None, max_length=200,
                              description="What it hides, e.g. 住民情報端末の画面")

    @model_validator(mode="after")
    def _inside_the_frame(self) -> MaskRegion:
        if self.x + self.w > 1 + 1e-9 or self.y + self.h > 1 + 1e-9:
            raise ValueError("region reaches outside the frame (x + w and y + h must be <= 1)")
        return self


class Privacy(Strict):
    """What disclosed footage of a camera hides (the stored original keeps everything)."""

    masks: list[MaskRegion] = Field(default_factory=list, max_length=32)
    blur_faces: bool = Field(default=False, description="Blur faces found in disclosed copies")

    @property
    def active(self) -> bool:
        """Whether a disclosure copy of this camera differs from the original."""
        return bool(self.masks) or self.blur_faces


class Camera(Strict):
    """One network camera, placed in a room of a site."""

    id: Id
    name: DisplayName
    site: Id
    room: Id
    address: Host
    port: int | None = Field(default=None, ge=1, le=65535,
                             description="ONVIF port (HTTP, or HTTPS with onvif_https)")
    onvif_https: bool | None = Field(
        default=None, description="ONVIF over HTTPS, the certificate checked as for "
                                  "rtsps://; the defaults' when unset")
    credential: Id | None = None
    profile: str | None = Field(default=None, description="ONVIF profile token for live view")
    serial: str | None = Field(default=None, max_length=128, description="Expected serial")
    recording: Recording = Field(default_factory=Recording)
    device: DeviceSettings | None = Field(default=None, description="Desired device settings")
    privacy: Privacy = Field(default_factory=Privacy,
                             description="Masks applied to exports for disclosure")
    stream_hosts: list[Host] = Field(
        default_factory=list, max_length=8,
        description="Other hosts the camera's stream URIs may name (a camera behind NAT "
                    "reports its inside address); credentials are sent only to these and "
                    "to `address`")


class CameraDefaults(Strict):
    """Values a camera takes when it does not name its own."""

    port: int = Field(default=80, ge=1, le=65535)
    onvif_https: bool = Field(
        default=False, description="ONVIF over HTTPS (then `port` is the HTTPS port, often "
                                   "443); the certificate is checked as for rtsps://")
    credential: Id | None = None
    profile: str = "main"
    record_profile: str = "main"
    tls_ca_file: Path | None = Field(
        default=None,
        description="PEM file of the CAs (or the cameras' own self-signed certificates) a "
                    "camera's certificate must come from (rtsps:// streams and ONVIF over "
                    "HTTPS), relative to this file; the system's CAs when unset. "
                    "Certificates are always checked, host name included")


class Terminal(Strict):
    """A resident-information terminal; alerts name it, and it sits in a room."""

    id: TerminalId
    room: Id
    name: DisplayName | None = None
