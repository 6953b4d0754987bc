"""Per-camera identity and mutable state: the one place later issues add settings to."""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass, field

from simulator.media import Label, ProfileSpec

# Fixed namespace so EndpointReferences are stable across runs and machines.
UUID_NAMESPACE = uuid.UUID("6f7c1a52-4d1e-4c1e-9a55-3c1d2b7e9f10")
MANUFACTURER = "CamerahubSim"
FIRMWARE_VERSION = "1.4.2"


class FaultSpecError(ValueError):
    """A fault given on the command line or the control endpoint is not understood."""


@dataclass
class Faults:
    """Misbehaviours switchable per camera at start and at run time."""

    offline: bool = False
    drop_after: float | None = None  # seconds after PLAY at which RTSP sessions are cut
    reject_auth: bool = False
    skew: float = 0.0  # seconds added to the camera's clock
    stall: bool = False
    # Broken or hostile streams after PLAY: well-formed RTP around random payloads, with
    # timestamps that "advance" with the frame clock or "jump" about; or random bytes on the
    # interleaved channel (random datagrams over UDP) instead of any RTP at all.
    garbage_rtp: str | None = None
    random_bytes: bool = False
    # A hostile or misconfigured camera: GetStreamUri/GetSnapshotUri answer this text instead
    # of the camera's own URI ("{address}" and "{port}" are filled in).
    stream_uri: str | None = None
    snapshot_uri: str | None = None
    # A camera whose sender overflows: every Nth RTP packet of the video is never sent (its
    # sequence number is skipped, as such cameras do), over TCP too. 0: none lost.
    lose_packets: int = 0
    # A camera that ends a playing session when its client sent no RTSP request and no RTCP
    # report for this many seconds (RFC 2326 12.37), and says so in SETUP's Session header.
    session_timeout: float | None = None

    def as_dict(self) -> dict:
        """JSON view."""
        return dict(self.__dict__)


@dataclass
class CameraState:
    """Everything one simulated camera knows about itself; mutable at run time."""

    index: int
    camera_id: str
    kind: str  # "hq" or "facility"
    site: str
    name: str
    location: str
    address: str
    username: str
    password: str
    profiles: dict[str, ProfileSpec]
    model: str = "CHS-2M"
    hostname: str = ""
    generation: int = 0  # bumped when the camera is "replaced" by another unit
    metadata_version: int = 1
    faults: Faults = field(default_factory=Faults)
    ntp_servers: list[str] = field(default_factory=list)  # stored only: never contacted
    ntp_from_dhcp: bool = False
    time_mode: str = "Manual"  # DateTimeType: Manual or NTP
    timezone: str = "UTC0"  # POSIX TZ as ONVIF carries it, e.g. JST-9
    boot_time: float = field(default_factory=time.time)
    # what RTSP serves right now per profile; trails `profiles` while a re-encode runs
    served: dict[str, ProfileSpec] = field(default_factory=dict)
    initial_sizes: dict[str, tuple[int, int]] = field(default_factory=dict)
    # name/location scope segments as a client set them (percent-encoded); None: derived
    name_scope: str | None = None
    location_scope: str | None = None
    extra_scopes: list[str] = field(default_factory=list)  # other configurable scopes
    label_name: str = ""

    def __post_init__(self) -> None:
        if not self.hostname:
            self.hostname = self.camera_id
        self.initial_sizes = {t: (p.width, p.height) for t, p in self.profiles.items()}
        # the picture keeps the name the camera started with, so renaming it over ONVIF
        # does not invalidate its cached loops (a real OSD would follow; ours is a fixture)
        self.label_name = self.label_name or self.name

    @property
    def _digest(self) -> bytes:
        """Hash of address and generation, the root of every identity field."""
        return hashlib.sha256(f"{self.address}#{self.generation}".encode()).digest()

    @property
    def endpoint_reference(self) -> str:
        """The WS-Discovery EndpointReference address."""
        return f"urn:uuid:{uuid.uuid5(UUID_NAMESPACE, f'{self.address}#{self.generation}')}"

    @property
    def serial_number(self) -> str:
        """Serial number; changes when the unit is replaced."""
        return "CHS" + self._digest[:5].hex().upper()

    @property
    def mac(self) -> str:
        """A locally administered MAC address."""
        octets = bytes((0x02,)) + self._digest[5:10]
        return ":".join(f"{b:02x}" for b in octets)

    @property
    def hardware_id(self) -> str:
        """Hardware id as GetDeviceInformation reports it."""
        return f"{self.model}-HW{self._digest[10] % 4 + 1}"

    def label(self) -> Label:
        """The text drawn into this camera's picture."""
        return Label(self.camera_id, self.label_name, self.site, self.address)

    def scopes(self) -> list[str]:
        """ONVIF scope URIs (name, location, type, profile, hardware)."""
        base = "onvif://www.onvif.org"
        return [f"{base}/type/video_encoder", f"{base}/Profile/Streaming",
                *self.configurable_scopes(),
                f"{base}/hardware/{_scope_safe(self.model)}",
                f"{base}/camerahub/id/{self.camera_id}"]

    def configurable_scopes(self) -> list[str]:
        """The scopes SetScopes replaces: name, location and any a client added."""
        base = "onvif://www.onvif.org"
        return [f"{base}/name/{self.name_scope or _scope_safe(self.name)}",
                f"{base}/location/{self.location_scope or _scope_safe(self.location)}",
                *self.extra_scopes]

    def now(self) -> float:
        """The camera's own clock (wall clock plus any skew fault)."""
        return time.time() + self.faults.skew

    def replace(self) -> None:
        """Swap in a new unit at the same address: new serial and EndpointReference."""
        self.generation += 1
        self.metadata_version += 1

    def as_dict(self) -> dict:
        """JSON view for the control endpoint."""
        return {"id": self.camera_id, "index": self.index, "kind": self.kind,
                "site": self.site, "name": self.name, "location": self.location,
                "address": self.address, "hostname": self.hostname,
                "endpoint_reference": self.endpoint_reference,
                "serial_number": self.serial_number, "mac": self.mac,
                "model": self.model, "generation": self.generation,
                "profiles": {t: f"{p.width}x{p.height}@{p.fps}" for t, p in
                             self.profiles.items()},
                "encoders": {t: encoder_view(p) for t, p in self.profiles.items()},
                "streams": {t: encoder_view(p) for t, p in self.served.items()},
                "reencoding": sorted(self.pending_streams()),
                "ntp": {"from_dhcp": self.ntp_from_dhcp, "servers": list(self.ntp_servers)},
                "time_mode": self.time_mode, "timezone": self.timezone,
                "faults": self.faults.as_dict()}

    def pending_streams(self) -> list[str]:
        """Profiles whose served stream does not yet follow the configured encoder."""
        return [t for t, p in self.profiles.items()
                if t in self.served and self.served[t].encoding() != p.encoding()]


def encoder_view(spec: ProfileSpec) -> dict:
    """JSON view of one profile's encoder settings."""
    return {"width": spec.width, "height": spec.height, "fps": spec.fps, "gop": spec.gop,
            "h264_profile": spec.h264_profile, "bitrate_kbps": encoder_kbps(spec)}


def encoder_kbps(spec: ProfileSpec) -> int:
    """The bitrate limit the camera reports: set over ONVIF, else derived from the encoder."""
    if spec.bitrate_limit:
        return spec.bitrate_limit
    return (spec.bitrate or spec.width * spec.height * spec.fps // 20) // 1000


def _scope_safe(text: str) -> str:
    """Scope path segments may not contain spaces; cameras use %20 or underscores."""
    return text.replace(" ", "_")


FAULT_ALIASES = {"offline": "offline", "drop": "drop_after", "drop_after": "drop_after",
                 "drop-after": "drop_after", "reject-auth": "reject_auth",
                 "reject_auth": "reject_auth", "skew": "skew", "stall": "stall",
                 "replaced": "replaced", "replace": "replaced", "stream_uri": "stream_uri",
                 "stream-uri": "stream_uri", "snapshot_uri": "snapshot_uri",
                 "snapshot-uri": "snapshot_uri", "garbage_rtp": "garbage_rtp",
                 "garbage-rtp": "garbage_rtp", "random_bytes": "random_bytes",
                 "random-bytes": "random_bytes", "lose_packets": "lose_packets",
                 "lose-packets": "lose_packets", "session_timeout": "session_timeout",
                 "session-timeout": "session_timeout"}
GARBAGE_MODES = ("advance", "jump")


def parse_fault_spec(spec: str) -> tuple[str, dict]:
    """Parse `TARGET:NAME[=VALUE][,NAME[=VALUE]...]` into (target, {field: value})."""
    target, sep, rest = spec.partition(":")
    if not sep or not target or not rest:
        raise FaultSpecError(f"fault {spec!r}: expected TARGET:FAULT[=VALUE][,...]")
    changes: dict = {}
    for item in rest.split(","):
        name, eq, value = item.strip().partition("=")
        key = FAULT_ALIASES.get(name.strip().lower())
        if key is None:
            raise FaultSpecError(f"fault {spec!r}: unknown fault {name!r}")
        changes[key] = value.strip() if eq else True
    return target, normalise_faults(changes)


def normalise_faults(changes: dict) -> dict:
    """Validate and type fault values given as JSON or command-line text."""
    out: dict = {}
    for raw_key, value in changes.items():
        key = FAULT_ALIASES.get(str(raw_key).lower())
        if key is None:
            raise FaultSpecError(f"unknown fault {raw_key!r}")
        out[key] = _fault_value(key, value)
    return out


def _fault_value(key: str, value: object) -> object:
    """One typed fault value."""
    if key in ("stream_uri", "snapshot_uri"):
        return None if value in (None, False, "") else str(value)[:4096]
    if key == "garbage_rtp":
        return _garbage_mode(value)
    if key in ("offline", "reject_auth", "stall", "replaced", "random_bytes"):
        if isinstance(value, str):
            return value.lower() in ("1", "true", "yes", "on")
        return bool(value)
    if value is None or value is False:
        return {"drop_after": None, "session_timeout": None, "lose_packets": 0}.get(key, 0.0)
    if key == "lose_packets":
        try:
            every = int(value)  # type: ignore[arg-type]
        except (TypeError, ValueError) as exc:
            raise FaultSpecError(f"fault lose_packets: {value!r} is not a whole number") from exc
        if every < 0 or every == 1:
            raise FaultSpecError("fault lose_packets is 0 (off) or N >= 2 (every Nth lost)")
        return every
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise FaultSpecError(f"fault {key}: {value!r} is not a number") from exc
    if key in ("drop_after", "session_timeout") and number <= 0:
        raise FaultSpecError(f"fault {key} must be a positive number of seconds")
    return number


def _garbage_mode(value: object) -> str | None:
    """garbage_rtp's mode: off, "advance" or "jump" (the flag alone, or true, means jump)."""
    if value in (None, False, "", 0) or str(value).lower() in ("0", "false", "no", "off"):
        return None
    if value is True or str(value).lower() in ("1", "true", "yes", "on"):
        return "jump"
    if str(value).lower() in GARBAGE_MODES:
        return str(value).lower()
    modes = ", ".join(GARBAGE_MODES)
    raise FaultSpecError(f"fault garbage_rtp: {value!r} is not one of {modes}")


def apply_faults(camera: CameraState, changes: dict) -> None:
    """Apply normalised fault changes; `replaced` is an action, not a lasting flag."""
    for key, value in changes.items():
        if key == "replaced":
            if value:
                camera.replace()
        else:
            setattr(camera.faults, key, value)
