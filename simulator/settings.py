"""Device settings a camera lets clients change: encoder, NTP, time zone, hostname.

Shared by the ONVIF Set* operations and the control endpoint, so a hand-made change
through either path is validated the same way a real camera would.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from urllib.parse import unquote

from simulator.media import ProfileSpec
from simulator.state import CameraState

H264_PROFILES = ("Baseline", "Main", "High")
FPS_RANGE = (1, 30)
GOP_RANGE = (1, 300)
BITRATE_RANGE = (64, 16384)  # kbps
QUALITY_RANGE = (0, 10)
# Sizes each profile offers, as a typical 2-megapixel camera does.
RESOLUTIONS = {
    "main": ((1920, 1080), (1280, 720), (640, 360)),
    "sub": ((640, 360), (320, 180)),
}
_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                       r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
_POSIX_TZ = re.compile(r"^[A-Za-z<>+\-0-9:,./]{3,64}$")
_NTP_HOST = re.compile(r"^[A-Za-z0-9.:-]{1,253}$")


class SettingsError(ValueError):
    """A setting the camera refuses; `subcode` is the ONVIF fault subcode."""

    def __init__(self, subcode: str, reason: str) -> None:
        super().__init__(reason)
        self.subcode = subcode


@dataclass(frozen=True)
class EncoderRequest:
    """Encoder values a client asks for; None keeps the current value."""

    width: int | None = None
    height: int | None = None
    fps: int | None = None
    gop: int | None = None
    bitrate_kbps: int | None = None
    h264_profile: str | None = None
    encoding: str = "H264"


def resolutions(camera: CameraState, token: str) -> list[tuple[int, int]]:
    """Sizes offered for a profile; a size the camera was started with is always offered."""
    offered = list(RESOLUTIONS.get(token, ()))
    initial = camera.initial_sizes.get(token)
    if initial and initial not in offered:
        offered.insert(0, initial)
    return offered


def encoder_change(camera: CameraState, token: str, req: EncoderRequest) -> ProfileSpec:
    """The profile's new spec, or SettingsError(ter:ConfigModify) when out of range."""
    spec = camera.profiles.get(token)
    if spec is None:
        raise SettingsError("ter:NoConfig", f"no video encoder configuration {token!r}")
    if req.encoding.upper() != "H264":
        raise SettingsError("ter:ConfigModify", f"encoding {req.encoding} is not supported")
    size = (req.width or spec.width, req.height or spec.height)
    if size not in resolutions(camera, token):
        raise SettingsError("ter:ConfigModify", f"resolution {size[0]}x{size[1]} is not offered")
    fps = _in_range("frame rate", req.fps or spec.fps, FPS_RANGE)
    gop = _in_range("GOV length", req.gop or spec.gop, GOP_RANGE)
    kbps = _in_range("bitrate", req.bitrate_kbps, BITRATE_RANGE) if req.bitrate_kbps else None
    profile = req.h264_profile or spec.h264_profile.capitalize()
    if profile not in H264_PROFILES:
        raise SettingsError("ter:ConfigModify", f"H.264 profile {profile} is not supported")
    return dataclasses.replace(spec, width=size[0], height=size[1], fps=fps, gop_frames=gop,
                               h264_profile=profile.lower(),
                               bitrate_limit=kbps or spec.bitrate_limit)


def _in_range(what: str, value: int, bounds: tuple[int, int]) -> int:
    """value, or a ConfigModify fault naming the allowed range."""
    if not bounds[0] <= value <= bounds[1]:
        raise SettingsError("ter:ConfigModify",
                            f"{what} {value} is outside {bounds[0]}..{bounds[1]}")
    return value


def check_hostname(name: str) -> str:
    """An RFC 1123 host name, or ter:InvalidHostname."""
    if not _HOSTNAME.match(name):
        raise SettingsError("ter:InvalidHostname", f"invalid host name {name!r}")
    return name


def check_timezone(tz: str) -> str:
    """A POSIX TZ string such as JST-9, or ter:InvalidTimeZone."""
    if not _POSIX_TZ.match(tz) or not tz[0].isalpha() and tz[0] != "<":
        raise SettingsError("ter:InvalidTimeZone", f"invalid POSIX time zone {tz!r}")
    return tz


def check_ntp(servers: list[str]) -> list[str]:
    """NTP server names or addresses (stored only; the simulator never contacts them)."""
    if len(servers) > 4:
        raise SettingsError("ter:TooManyNTPServers", "at most 4 NTP servers")
    for host in servers:
        if not _NTP_HOST.match(host):
            raise SettingsError("ter:InvalidIPv4Address", f"invalid NTP server {host!r}")
    return servers


SCOPE_BASE = "onvif://www.onvif.org/"
MAX_SCOPES = 16
MAX_SCOPE_LENGTH = 256


def set_scopes(camera: CameraState, scopes: list[str]) -> None:
    """SetScopes: replace the configurable scopes; fixed ones may not be written."""
    fixed = set(camera.scopes()) - set(camera.configurable_scopes())
    if len(scopes) > MAX_SCOPES:
        raise SettingsError("ter:TooManyScopes", f"at most {MAX_SCOPES} scopes")
    for scope in scopes:
        if scope in fixed or scope.startswith((SCOPE_BASE + "hardware/", SCOPE_BASE + "type/")):
            raise SettingsError("ter:ScopeOverwrite", f"scope {scope!r} is fixed")
        if not scope or len(scope) > MAX_SCOPE_LENGTH or any(c.isspace() for c in scope):
            raise SettingsError("ter:InvalidArgVal", f"invalid scope {scope!r}")
    names = [s.removeprefix(SCOPE_BASE + "name/") for s in scopes
             if s.startswith(SCOPE_BASE + "name/")]
    places = [s.removeprefix(SCOPE_BASE + "location/") for s in scopes
              if s.startswith(SCOPE_BASE + "location/")]
    if names:
        camera.name_scope, camera.name = names[0], unquote(names[0])
    if places:
        camera.location_scope, camera.location = places[0], unquote(places[0])
    camera.extra_scopes = [s for s in scopes if not s.startswith(
        (SCOPE_BASE + "name/", SCOPE_BASE + "location/"))]


def apply_control(camera: CameraState, body: dict) -> list[str]:
    """Apply a control-endpoint settings change; returns the profiles whose encoder changed."""
    unknown = set(body) - set(camera.profiles) - {"hostname", "ntp", "timezone", "time_mode",
                                                  "name"}
    if unknown:
        raise SettingsError("ter:InvalidArgVal", f"unknown settings {sorted(unknown)}")
    changed = []
    for token in [k for k in body if k in camera.profiles]:
        values = dict(body[token])
        if "resolution" in values:
            w, _, h = str(values.pop("resolution")).partition("x")
            values.update(width=int(w), height=int(h))
        unknown = set(values) - {f.name for f in dataclasses.fields(EncoderRequest)}
        if unknown:
            raise SettingsError("ter:ConfigModify", f"unknown encoder fields {sorted(unknown)}")
        camera.profiles[token] = encoder_change(camera, token, EncoderRequest(**values))
        changed.append(token)
    if "hostname" in body:
        camera.hostname = check_hostname(str(body["hostname"]))
    if "name" in body:
        camera.name, camera.name_scope = str(body["name"]), None
    if "ntp" in body:
        camera.ntp_servers = check_ntp([str(s) for s in body["ntp"]])
        camera.ntp_from_dhcp = False
    if "timezone" in body:
        camera.timezone = check_timezone(str(body["timezone"]))
    if "time_mode" in body:
        camera.time_mode = "NTP" if str(body["time_mode"]).upper() == "NTP" else "Manual"
    return changed
