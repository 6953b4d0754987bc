"""Which cameras to simulate: the default HQ/facility layout or a YAML file."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from simulator.media import ProfileSpec
from simulator.state import CameraState, apply_faults, normalise_faults

DEFAULT_CAMERAS = 100
HQ_PERCENT = 55  # 55 of the default 100 cameras are at HQ
CAMERAS_PER_FACILITY = 5
# The factory-default credential the simulated firmware ships with (documented).
DEFAULT_USERNAME = "admin"
DEFAULT_PASSWORD = "admin"  # noqa: S105
_SIZE = re.compile(r"^(\d+)x(\d+)(?:@(\d+))?$")


class ConfigError(ValueError):
    """Invalid simulator configuration."""


@dataclass
class Layout:
    """Inputs for building the camera list."""

    cameras: int = DEFAULT_CAMERAS
    hq: int | None = None
    hq_base: str = "127.0.1.1"
    facility_base: str = "127.0.2.1"
    username: str = DEFAULT_USERNAME
    password: str = DEFAULT_PASSWORD
    main: ProfileSpec = field(default_factory=lambda: ProfileSpec("main", 1280, 720, 15))
    sub: ProfileSpec = field(default_factory=lambda: ProfileSpec("sub", 640, 360, 10))


def loopback(address: str) -> str:
    """Refuse anything outside 127.0.0.0/8: the simulator never binds a real interface."""
    try:
        ip = ipaddress.IPv4Address(address)
    except ValueError as exc:
        raise ConfigError(f"{address!r} is not an IPv4 address") from exc
    if not ip.is_loopback:
        raise ConfigError(f"{address} is outside 127.0.0.0/8; the simulator binds loopback only")
    return str(ip)


def _address(base: str, offset: int) -> str:
    return loopback(str(ipaddress.IPv4Address(loopback(base)) + offset))


def parse_size(text: str, token: str, fps: int) -> ProfileSpec:
    """`WxH` or `WxH@FPS` into a profile."""
    match = _SIZE.match(text.strip())
    if not match:
        raise ConfigError(f"{token}: expected WxH or WxH@FPS, got {text!r}")
    w, h = int(match.group(1)), int(match.group(2))
    if w % 2 or h % 2 or not (64 <= w <= 3840 and 64 <= h <= 2160):
        raise ConfigError(f"{token}: unsupported size {w}x{h}")
    return ProfileSpec(token, w, h, int(match.group(3) or fps))


def parse_bitrate(text: str) -> int:
    """`3M`, `2500k` or a plain number of bit/s."""
    match = re.match(r"^(\d+(?:\.\d+)?)([kKmM]?)$", text.strip())
    if not match:
        raise ConfigError(f"bitrate: expected e.g. 3M or 2500k, got {text!r}")
    scale = {"": 1, "k": 1_000, "m": 1_000_000}[match.group(2).lower()]
    return int(float(match.group(1)) * scale)


def default_cameras(layout: Layout) -> list[CameraState]:
    """HQ cameras from hq_base, facility cameras (five per facility) from facility_base."""
    if layout.cameras < 1:
        raise ConfigError("need at least one camera")
    # integer arithmetic: 100 * 0.55 is 55.00000000000001 in floating point
    hq = layout.hq if layout.hq is not None else -(-layout.cameras * HQ_PERCENT // 100)
    if not 0 <= hq <= layout.cameras:
        raise ConfigError(f"--hq {hq} must be between 0 and --cameras {layout.cameras}")
    profiles = {"main": layout.main, "sub": layout.sub}
    cams = []
    for i in range(hq):
        cams.append(CameraState(
            index=len(cams), camera_id=f"hq-{i + 1:03d}", kind="hq", site="hq",
            name=f"HQ Camera {i + 1:03d}", location=f"hq/floor-{i // 10 + 1}",
            address=_address(layout.hq_base, i), username=layout.username,
            password=layout.password, profiles=dict(profiles), model="CHS-D2M"))
    for i in range(layout.cameras - hq):
        site = f"facility-{i // CAMERAS_PER_FACILITY + 1:02d}"
        cams.append(CameraState(
            index=len(cams), camera_id=f"fac-{i + 1:03d}", kind="facility", site=site,
            name=f"Facility Camera {i + 1:03d}", location=site,
            address=_address(layout.facility_base, i), username=layout.username,
            password=layout.password, profiles=dict(profiles), model="CHS-B2M-OD"))
    return cams


def load_config(path: Path, layout: Layout) -> list[CameraState]:
    """Cameras from a YAML file (`cameras:` list); layout supplies defaults."""
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("cameras"), list):
        raise ConfigError(f"{path}: expected a mapping with a 'cameras' list")
    username = str(data.get("username", layout.username))
    password = str(data.get("password", layout.password))
    cams = [_camera_from_entry(i, e, username, password, layout)
            for i, e in enumerate(data["cameras"])]
    _check_unique(cams)
    return cams


def _camera_from_entry(index: int, entry: object, username: str, password: str,
                       layout: Layout) -> CameraState:
    """One `cameras[i]` entry of the YAML file."""
    if not isinstance(entry, dict) or "id" not in entry or "address" not in entry:
        raise ConfigError(f"cameras[{index}]: needs at least 'id' and 'address'")
    cam_id = str(entry["id"])
    kind = str(entry.get("kind", "hq"))
    site = str(entry.get("site", kind))
    main = parse_size(str(entry["main"]), "main", 15) if "main" in entry else layout.main
    sub = parse_size(str(entry["sub"]), "sub", 10) if "sub" in entry else layout.sub
    cam = CameraState(
        index=index, camera_id=cam_id, kind=kind, site=site,
        name=str(entry.get("name", cam_id)), location=str(entry.get("location", site)),
        address=loopback(str(entry["address"])),
        username=str(entry.get("username", username)),
        password=str(entry.get("password", password)),
        profiles={"main": main, "sub": sub}, model=str(entry.get("model", "CHS-D2M")))
    if entry.get("faults"):
        apply_faults(cam, normalise_faults(dict(entry["faults"])))
    return cam


def _check_unique(cams: list[CameraState]) -> None:
    """Ids and addresses must be unique: faults and the control endpoint address by them."""
    for attr in ("camera_id", "address"):
        values = [getattr(c, attr) for c in cams]
        dupes = sorted({v for v in values if values.count(v) > 1})
        if dupes:
            raise ConfigError(f"duplicate camera {attr}: {', '.join(dupes)}")
