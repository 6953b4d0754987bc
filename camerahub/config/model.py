"""The root of the deployment file and its cross-reference checks."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType

from pydantic import Field, model_validator

from .base import Strict
from .cameras import Camera, CameraDefaults, Credential, Terminal
from .devices import DesiredDevice, Devices, check_hostname, merge
from .org import Org
from .services import (
    Access,
    Alarms,
    AlertSource,
    Api,
    Audit,
    Auth,
    Export,
    Incidents,
    Recorder,
    Retention,
    Storage,
    System,
)
from .sites import Site
from .users import SCOPED_ROLES, Role, User

Problem = tuple[tuple[str | int, ...], str]


class Config(Strict):
    """One deployment: sites, org tree, cameras, users and service settings."""

    version: int = Field(default=1, ge=1, le=1)
    system: System = Field(default_factory=System)
    data_dir: Path | None = None
    database_url: str | None = None
    sites: list[Site] = Field(min_length=1)
    org: Org = Field(default_factory=Org)
    credentials: list[Credential] = Field(default_factory=list)
    defaults: CameraDefaults = Field(default_factory=CameraDefaults)
    cameras: list[Camera] = Field(default_factory=list)
    devices: Devices = Field(default_factory=Devices)
    terminals: list[Terminal] = Field(default_factory=list)
    storage: Storage = Field(default_factory=Storage)
    recorder: Recorder = Field(default_factory=Recorder)
    retention: Retention = Field(default_factory=Retention)
    audit: Audit = Field(default_factory=Audit)
    access: Access = Field(default_factory=Access)
    auth: Auth = Field(default_factory=Auth)
    incidents: Incidents = Field(default_factory=Incidents)
    alarms: Alarms = Field(default_factory=Alarms)
    export: Export = Field(default_factory=Export)
    api: Api = Field(default_factory=Api)
    users: list[User] = Field(default_factory=list)
    alert_sources: list[AlertSource] = Field(default_factory=list)

    @model_validator(mode="after")
    def _cross_references(self) -> Config:
        problems = list(cross_reference_problems(self))
        if problems:
            raise CrossReferenceError(problems)
        return self

    # Lookups used across services; small and derived, so never stale.
    @property
    def camera_by_id(self) -> Mapping[str, Camera]:
        """Every camera by id, read-only; built once per cameras list."""
        # Stored outside the fields (as functools.cached_property would), so equality and
        # dumps ignore it; keyed on the list object so a model_copy with new cameras rebuilds.
        cached = self.__dict__.get("_camera_index")
        if cached is None or cached[0] is not self.cameras:
            cached = (self.cameras, MappingProxyType({c.id: c for c in self.cameras}))
            self.__dict__["_camera_index"] = cached
        return cached[1]

    def camera(self, camera_id: str) -> Camera | None:
        """The camera with this id, or None."""
        return self.camera_by_id.get(camera_id)

    def site(self, site_id: str) -> Site | None:
        """The site with this id, or None."""
        return next((s for s in self.sites if s.id == site_id), None)

    def room_owner(self, room_id: str) -> tuple[str, str] | None:
        """(department id, division id) owning a room, or None."""
        for dept, div, room in self.org.rooms():
            if room.id == room_id:
                return dept.id, div.id
        return None

    def camera_port(self, cam: Camera) -> int:
        """The camera's ONVIF port, falling back to the defaults."""
        return cam.port or self.defaults.port

    def camera_onvif_https(self, cam: Camera) -> bool:
        """Whether the camera's ONVIF is spoken over HTTPS, falling back to the defaults."""
        return self.defaults.onvif_https if cam.onvif_https is None else cam.onvif_https

    def camera_credential(self, cam: Camera) -> Credential | None:
        """The credential a camera uses, falling back to the defaults."""
        cred_id = cam.credential or self.defaults.credential
        return next((c for c in self.credentials if c.id == cred_id), None)

    def desired_device(self, cam: Camera) -> DesiredDevice:
        """The device settings a camera should have: camera, then site, then global."""
        layers = [cam.device, self.devices.sites.get(cam.site), self.devices.defaults]
        return merge(cam.id, cam.site, [layer for layer in layers if layer is not None],
                     cam.name)

    def manages_devices(self) -> bool:
        """Whether the file declares any device settings at all."""
        return any(not self.desired_device(c).empty() for c in self.cameras)

    def retention_days(self, cam: Camera) -> int:
        """Days to keep a camera's footage: camera, then site, then global."""
        site = self.site(cam.site)
        return (
            cam.recording.retention_days
            or (site.retention_days if site else None)
            or self.retention.default_days
        )


class CrossReferenceError(ValueError):
    """Several cross-reference problems, each with its path in the file."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(msg for _, msg in problems))


def _duplicates(items: Iterable[tuple[tuple, str]], what: str) -> Iterator[Problem]:
    """Flag every occurrence after the first of a repeated value."""
    seen: Counter[str] = Counter()
    for path, value in items:
        seen[value] += 1
        if seen[value] > 1:
            yield path, f"duplicate {what} {value!r}"


def _check_unique_ids(cfg: Config) -> Iterator[Problem]:
    yield from _duplicates(((("sites", i, "id"), s.id) for i, s in enumerate(cfg.sites)), "site id")
    yield from _duplicates(
        ((("cameras", i, "id"), c.id) for i, c in enumerate(cfg.cameras)), "camera id"
    )
    yield from _duplicates(
        ((("cameras", i, "address"), c.address.lower()) for i, c in enumerate(cfg.cameras)),
        "camera address",
    )
    yield from _duplicates(((("users", i, "id"), u.id) for i, u in enumerate(cfg.users)), "user id")
    yield from _duplicates(
        ((("terminals", i, "id"), t.id) for i, t in enumerate(cfg.terminals)), "terminal id"
    )
    yield from _duplicates(
        ((("credentials", i, "id"), c.id) for i, c in enumerate(cfg.credentials)),
        "credential id",
    )
    yield from _duplicates(
        ((("alert_sources", i, "id"), a.id) for i, a in enumerate(cfg.alert_sources)),
        "alert source id",
    )
    yield from _duplicates(_area_ids(cfg), "area id (departments, divisions and rooms share ids)")


def _area_ids(cfg: Config) -> Iterator[tuple[tuple, str]]:
    for d, dept in enumerate(cfg.org.departments):
        yield ("org", "departments", d, "id"), dept.id
        for v, div in enumerate(dept.divisions):
            yield ("org", "departments", d, "divisions", v, "id"), div.id
            for r, room in enumerate(div.rooms):
                yield ("org", "departments", d, "divisions", v, "rooms", r, "id"), room.id


def _check_rooms(cfg: Config) -> Iterator[Problem]:
    sites = {s.id for s in cfg.sites}
    for d, dept in enumerate(cfg.org.departments):
        for v, div in enumerate(dept.divisions):
            for r, room in enumerate(div.rooms):
                if room.site not in sites:
                    path = ("org", "departments", d, "divisions", v, "rooms", r, "site")
                    yield path, f"unknown site {room.site!r}"


def _check_cameras(cfg: Config) -> Iterator[Problem]:
    sites = {s.id for s in cfg.sites}
    rooms = {room.id: room for _, _, room in cfg.org.rooms()}
    creds = {c.id for c in cfg.credentials}
    for i, cam in enumerate(cfg.cameras):
        if cam.site not in sites:
            yield ("cameras", i, "site"), f"unknown site {cam.site!r}"
        room = rooms.get(cam.room)
        if room is None:
            yield ("cameras", i, "room"), f"unknown room {cam.room!r}"
        elif cam.site in sites and room.site != cam.site:
            msg = f"room {cam.room!r} is at site {room.site!r}, not {cam.site!r}"
            yield ("cameras", i, "room"), msg
        cred = cam.credential or cfg.defaults.credential
        if cred is not None and cred not in creds:
            yield ("cameras", i, "credential"), f"unknown credential {cred!r}"


def _check_defaults(cfg: Config) -> Iterator[Problem]:
    creds = {c.id for c in cfg.credentials}
    if cfg.defaults.credential is not None and cfg.defaults.credential not in creds:
        yield ("defaults", "credential"), f"unknown credential {cfg.defaults.credential!r}"


def _check_devices(cfg: Config) -> Iterator[Problem]:
    sites = {s.id for s in cfg.sites}
    for site_id in cfg.devices.sites:
        if site_id not in sites:
            yield ("devices", "sites", site_id), f"unknown site {site_id!r}"
    names: dict[str, str] = {}
    for i, cam in enumerate(cfg.cameras):
        want = cfg.desired_device(cam)
        if want.name is not None and len(want.name) > 64:
            yield ("cameras", i, "device", "name"), f"device name {want.name!r} is over 64 chars"
        hostname = want.hostname
        if hostname is None:
            continue
        problem = check_hostname(hostname)
        if problem:
            yield ("cameras", i, "device", "hostname"), problem
        elif hostname.lower() in names:
            yield (("cameras", i, "device", "hostname"),
                   f"hostname {hostname!r} is also {names[hostname.lower()]!r}'s")
        names.setdefault(hostname.lower(), cam.id)


def _check_terminals(cfg: Config) -> Iterator[Problem]:
    rooms = {room.id for _, _, room in cfg.org.rooms()}
    for i, term in enumerate(cfg.terminals):
        if term.room not in rooms:
            yield ("terminals", i, "room"), f"unknown room {term.room!r}"


def _check_user_scopes(cfg: Config) -> Iterator[Problem]:
    scopes = {
        "department": {d.id for d in cfg.org.departments},
        "division": {v.id for d in cfg.org.departments for v in d.divisions},
    }
    for i, user in enumerate(cfg.users):
        kind = SCOPED_ROLES.get(user.role)
        if kind and user.scope not in scopes[kind]:
            yield ("users", i, "scope"), f"{user.role} scope {user.scope!r} is not a {kind}"


def _check_org_people(cfg: Config) -> Iterator[Problem]:
    users = {u.id: u for u in cfg.users}
    for d, dept in enumerate(cfg.org.departments):
        if dept.head is not None:
            yield from _check_person(users, dept.head, Role.DEPARTMENT_HEAD, dept.id,
                                     ("org", "departments", d, "head"))
        for v, div in enumerate(dept.divisions):
            for m, manager in enumerate(div.managers):
                yield from _check_person(users, manager, Role.DIVISION_MANAGER, div.id,
                                         ("org", "departments", d, "divisions", v, "managers", m))


def _check_person(users: dict[str, User], uid: str, role: str, scope: str,
                  path: tuple) -> Iterator[Problem]:
    user = users.get(uid)
    if user is None:
        yield path, f"unknown user {uid!r}"
    elif user.role != role or user.scope != scope:
        yield path, f"user {uid!r} must have role {role} and scope {scope!r}"


def _check_retention(cfg: Config) -> Iterator[Problem]:
    """No retention above retention.max_days: the ceiling the municipality has to defend."""
    ceiling = cfg.retention.max_days
    if ceiling is None:
        return
    over = f"above retention.max_days ({ceiling})"
    if cfg.retention.default_days > ceiling:
        yield ("retention", "default_days"), f"{cfg.retention.default_days} days is {over}"
    for i, site in enumerate(cfg.sites):
        if site.retention_days is not None and site.retention_days > ceiling:
            yield ("sites", i, "retention_days"), f"{site.retention_days} days is {over}"
    for i, cam in enumerate(cfg.cameras):
        days = cam.recording.retention_days
        if days is not None and days > ceiling:
            yield ("cameras", i, "recording", "retention_days"), f"{days} days is {over}"


CHECKS = (
    _check_unique_ids,
    _check_retention,
    _check_rooms,
    _check_cameras,
    _check_defaults,
    _check_devices,
    _check_terminals,
    _check_user_scopes,
    _check_org_people,
)


def cross_reference_problems(cfg: Config) -> Iterator[Problem]:
    """Every cross-reference problem of a structurally valid config."""
    for check in CHECKS:
        yield from check(cfg)
