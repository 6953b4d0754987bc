"""Plan and apply the device part of a deployment: encoder, time and identity settings.

Unlike the inventory, devices cannot be changed atomically: each camera is read, changed
and read back on its own, failures are reported per camera and the rest proceed. A re-run
only touches what still differs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from camerahub.cameras import CameraAccess, CredentialUnavailable
from camerahub.config import Camera, Config
from camerahub.config.devices import DesiredDevice, DesiredEncoder
from camerahub.db import models as m
from camerahub.db.types import utcnow
from camerahub.deploy.limits import DEFAULT_TIMEOUT_S, DEFAULT_WORKERS
from camerahub.onvif import (
    DeviceSettings,
    EncoderChange,
    EncoderSettings,
    OnvifClient,
    OnvifError,
    SettingsChange,
)

log = logging.getLogger(__name__)

# Encoder fields whose change makes the camera restart the stream (new SPS, new SDP).
RESTARTING = ("resolution", "fps", "gop", "h264_profile")


class DeviceSelectionError(ValueError):
    """--only names a camera the file does not have."""


@dataclass(frozen=True)
class FieldChange:
    """One setting that differs: `field` is e.g. main.resolution, ntp, timezone, hostname."""

    field: str
    current: Any
    desired: Any

    def as_json(self) -> dict[str, Any]:
        """JSON view."""
        return {"field": self.field, "current": self.current, "desired": self.desired}

    def __str__(self) -> str:
        return f"{self.field}: {_show(self.current)} -> {_show(self.desired)}"


@dataclass
class DeviceOutcome:
    """What happened on one camera: unchanged, change (planned), applied, invalid or failed."""

    camera_id: str
    address: str
    status: str
    changes: list[FieldChange] = field(default_factory=list)
    error: str | None = None
    error_kind: str | None = None
    seconds: float = 0.0

    @property
    def restarts(self) -> list[str]:
        """Profiles whose stream restarts because of an encoder change."""
        return sorted({c.field.split(".")[0] for c in self.changes
                       if "." in c.field and c.field.split(".")[1] in RESTARTING})

    def as_json(self) -> dict[str, Any]:
        """JSON view for --json."""
        return {"camera": self.camera_id, "address": self.address, "status": self.status,
                "changes": [c.as_json() for c in self.changes], "restarts": self.restarts,
                "error": {"kind": self.error_kind, "message": self.error} if self.error else None,
                "seconds": self.seconds}


@dataclass
class DeviceRun:
    """Outcomes of a plan or apply over many cameras."""

    outcomes: list[DeviceOutcome]
    applied: bool
    seconds: float = 0.0

    def count(self, status: str) -> int:
        """How many cameras ended with this status."""
        return sum(1 for o in self.outcomes if o.status == status)

    def summary(self) -> dict[str, int]:
        """Counts per status."""
        keys = ("unchanged", "change", "applied", "invalid", "failed")
        return {k: self.count(k) for k in keys}

    @property
    def ok(self) -> bool:
        """No camera failed or had invalid settings."""
        return not (self.count("failed") or self.count("invalid"))

    def as_json(self) -> dict[str, Any]:
        """JSON view for --json."""
        return {"applied": self.applied, "atomic": False, "summary": self.summary(),
                "seconds": self.seconds, "cameras": [o.as_json() for o in self.outcomes]}


# -- comparing desired and current --------------------------------------------------------


def option_problems(want: DesiredDevice, have: DeviceSettings) -> list[str]:
    """Desired values the camera does not offer (checked against its own options)."""
    problems = []
    for enc in want.encoders:
        if have.encoder(enc.profile) is None:
            offered = ", ".join(e.profile for e in have.encoders) or "none"
            problems.append(f"no profile {enc.profile!r} on the camera (profiles: {offered})")
            continue
        problems += _encoder_problems(enc, have)
    return problems


def _encoder_problems(enc: DesiredEncoder, have: DeviceSettings) -> list[str]:
    """One encoder's desired values against the profile's options."""
    opts = have.options_for(enc.profile)
    if opts is None:
        return []
    out = []
    if enc.size and opts.resolutions and enc.size not in opts.resolutions:
        offered = ", ".join(f"{w}x{h}" for w, h in opts.resolutions)
        out.append(f"{enc.profile}.resolution {enc.size[0]}x{enc.size[1]} is not offered; "
                   f"offered: {offered}")
    for name, value, bounds in (("fps", enc.fps, opts.fps_range),
                                ("gop", enc.gop, opts.gop_range),
                                ("bitrate_kbps", enc.bitrate_kbps, opts.bitrate_range)):
        if value is not None and bounds and not bounds[0] <= value <= bounds[1]:
            out.append(f"{enc.profile}.{name} {value} is outside {bounds[0]}..{bounds[1]}")
    if enc.h264_profile and opts.h264_profiles and enc.h264_profile not in opts.h264_profiles:
        out.append(f"{enc.profile}.h264_profile {enc.h264_profile} is not offered; offered: "
                   + ", ".join(opts.h264_profiles))
    return out


def differences(want: DesiredDevice, have: DeviceSettings) -> list[FieldChange]:
    """Every managed setting whose current value differs from the desired one."""
    out: list[FieldChange] = []
    for enc in want.encoders:
        cur = have.encoder(enc.profile)
        if cur is not None:
            out += _encoder_differences(enc, cur)
    if want.ntp is not None:
        current = None if have.ntp_servers is None else list(have.ntp_servers)
        if current != list(want.ntp) or have.ntp_from_dhcp:
            out.append(FieldChange("ntp", current, list(want.ntp)))
    if want.ntp is not None and have.time_mode != "NTP":
        out.append(FieldChange("time_mode", have.time_mode, "NTP"))
    if want.timezone is not None and have.timezone != want.timezone:
        out.append(FieldChange("timezone", have.timezone, want.timezone))
    if want.hostname is not None and have.hostname != want.hostname:
        out.append(FieldChange("hostname", have.hostname, want.hostname))
    if want.name is not None and have.name != want.name:
        out.append(FieldChange("name", have.name, want.name))
    return out


def _encoder_differences(enc: DesiredEncoder, cur: EncoderSettings) -> list[FieldChange]:
    """Differing fields of one profile's encoder, named profile.field."""
    pairs = [("resolution", _size(cur.width, cur.height), _size(*enc.size) if enc.size else None),
             ("fps", cur.fps, enc.fps), ("gop", cur.gop, enc.gop),
             ("bitrate_kbps", cur.bitrate_kbps, enc.bitrate_kbps),
             ("h264_profile", cur.h264_profile, enc.h264_profile)]
    return [FieldChange(f"{enc.profile}.{name}", have, want)
            for name, have, want in pairs if want is not None and have != want]


def settings_change(want: DesiredDevice, have: DeviceSettings,
                    changes: list[FieldChange]) -> SettingsChange:
    """The Set* calls that bring the camera to the desired values."""
    fields = {c.field for c in changes}
    encoders = []
    for enc in want.encoders:
        mine = {f.split(".", 1)[1] for f in fields if f.startswith(enc.profile + ".")}
        cur = have.encoder(enc.profile)
        if mine and cur is not None:
            size = enc.size if "resolution" in mine else (None, None)
            encoders.append(EncoderChange(
                enc.profile, cur.config_token, size[0], size[1],
                enc.fps if "fps" in mine else None,
                enc.bitrate_kbps if "bitrate_kbps" in mine else None,
                enc.gop if "gop" in mine else None,
                enc.h264_profile if "h264_profile" in mine else None))
    time_mode = None
    if fields & {"time_mode", "timezone"}:
        time_mode = "NTP" if want.ntp is not None else (have.time_mode or "Manual")
    return SettingsChange(
        encoders=tuple(encoders),
        ntp_servers=tuple(want.ntp) if "ntp" in fields and want.ntp else None,
        time_mode=time_mode, timezone=(want.timezone or have.timezone) if time_mode else None,
        hostname=want.hostname if "hostname" in fields else None,
        name=want.name if "name" in fields else None)


# -- running over cameras -------------------------------------------------------------------


def select_cameras(cfg: Config, only: Iterable[str] | None = None) -> list[Camera]:
    """Cameras with managed settings, limited to `only` (unknown ids are an error)."""
    wanted = {c.strip() for c in only or () if c.strip()}
    unknown = wanted - cfg.camera_by_id.keys()
    if unknown:
        raise DeviceSelectionError("unknown camera(s): " + ", ".join(sorted(unknown)))
    return [c for c in cfg.cameras if (not wanted or c.id in wanted)
            and not cfg.desired_device(c).empty()]


class DeviceRollout:
    """Reads, plans and (optionally) applies device settings with bounded concurrency."""

    def __init__(self, cfg: Config, client: OnvifClient | None = None,
                 workers: int = DEFAULT_WORKERS, timeout: float = DEFAULT_TIMEOUT_S,
                 ca_file: str | None = None):
        self.cfg = cfg
        self.workers = workers
        self.timeout = timeout
        self._own_client = client is None
        self.client = client or OnvifClient(timeout=timeout, max_workers=workers,
                                            ca_file=ca_file)
        self.access = CameraAccess(cfg, self.client)

    def run(self, apply: bool, only: Iterable[str] | None = None) -> DeviceRun:
        """Plan (apply=False) or apply on every selected camera; never raises per camera."""
        started = time.monotonic()
        cameras = select_cameras(self.cfg, only)
        self.client.load()
        with ThreadPoolExecutor(self.workers, thread_name_prefix="device") as pool:
            outcomes = list(pool.map(lambda c: self.one(c, apply), cameras))
        return DeviceRun(outcomes, apply, round(time.monotonic() - started, 3))

    def close(self) -> None:
        """Release the ONVIF client if this rollout created it."""
        if self._own_client:
            self.client.close()

    def drift(self, cam: Camera) -> list[FieldChange]:
        """Settings that differ on the camera now (raises OnvifError, CredentialUnavailable)."""
        have = self.client.read_settings(self.access.device_url(cam.id),
                                         self.access.require_login(cam.id), options=False,
                                         deadline=time.monotonic() + self.timeout)
        return differences(self.cfg.desired_device(cam), have)

    def one(self, cam: Camera, apply: bool) -> DeviceOutcome:
        """One camera, within the per-camera timeout; failures become the outcome."""
        started = time.monotonic()
        outcome = DeviceOutcome(cam.id, cam.address, "failed")
        try:
            self._process(cam, apply, outcome, started + self.timeout)
        except OnvifError as exc:
            outcome.status, outcome.error_kind, outcome.error = "failed", exc.kind, exc.reason
        except CredentialUnavailable as exc:
            outcome.status, outcome.error_kind, outcome.error = "failed", "credential", str(exc)
        except Exception as exc:  # a bug or unforeseen library error must not stop the rest
            log.exception("device rollout on %s failed unexpectedly", cam.id)
            outcome.status, outcome.error_kind, outcome.error = "failed", "internal", str(exc)
        outcome.seconds = round(time.monotonic() - started, 3)
        return outcome

    def _process(self, cam: Camera, apply: bool, outcome: DeviceOutcome,
                 deadline: float) -> None:
        """Read, compare, and when applying: change, read back and verify."""
        want = self.cfg.desired_device(cam)
        xaddr, login = self.access.device_url(cam.id), self.access.require_login(cam.id)
        have = self.client.read_settings(xaddr, login, deadline=deadline)
        problems = option_problems(want, have) + _unreadable(want, have)
        outcome.changes = differences(want, have)
        if problems:
            outcome.status, outcome.error_kind = "invalid", "invalid"
            outcome.error = "; ".join(problems)
            return
        if not outcome.changes:
            outcome.status = "unchanged"
            return
        if not apply:
            outcome.status = "change"
            return
        self.client.write_settings(xaddr, login, settings_change(want, have, outcome.changes),
                                   deadline)
        after = self.client.read_settings(xaddr, login, options=False, deadline=deadline)
        left = differences(want, after)
        if left:
            outcome.status, outcome.error_kind = "failed", "verify"
            outcome.error = "read back differs: " + "; ".join(str(c) for c in left)
            return
        outcome.status = "applied"


ROLLOUT_KEY = "device_rollout"  # CameraState.details key: settings verified on the camera


def record_verified(session: Session, run: DeviceRun) -> int:
    """Note on each camera's state that its settings were verified: from then on, a
    difference is drift (someone changed the camera), not a rollout still to do."""
    stamped = 0
    for outcome in run.outcomes:
        if outcome.status not in ("applied", "unchanged"):
            continue
        state = session.get(m.CameraState, outcome.camera_id)
        if state is None:
            continue
        state.details = {**(state.details or {}),
                         ROLLOUT_KEY: {"verified_at": utcnow().isoformat()}}
        stamped += 1
    return stamped


def rolled_out(session: Session) -> set[str]:
    """Ids of cameras whose device settings a rollout has verified."""
    return {s.camera_id for s in session.scalars(select(m.CameraState))
            if (s.details or {}).get(ROLLOUT_KEY)}


def _unreadable(want: DesiredDevice, have: DeviceSettings) -> list[str]:
    """Managed settings the camera would not report (its Get* call is unsupported)."""
    out = []
    if want.ntp is not None and have.ntp_servers is None:
        out.append("the camera does not report its NTP servers (GetNTP unsupported)")
    if want.hostname is not None and have.hostname is None:
        out.append("the camera does not report its hostname (GetHostname unsupported)")
    if want.name is not None and have.name is None:
        out.append("the camera does not report a name scope (GetScopes)")
    return out


def _size(width: int | None, height: int | None) -> str | None:
    return f"{width}x{height}" if width is not None and height is not None else None


def _show(value: Any) -> str:
    """Compact display of a setting value."""
    if value is None:
        return "(unset)"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value) or "(none)"
    return str(value)
