"""Plan and apply the inventory part of a deployment (sites, areas, cameras, terminals, users)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from camerahub.config import Config
from camerahub.db import models as m

# Apply order respects foreign keys; removal runs in reverse.
KINDS: dict[str, type[m.Base]] = {
    "sites": m.Site,
    "areas": m.Area,
    "cameras": m.Camera,
    "terminals": m.Terminal,
    "users": m.User,
}
FIELDS: dict[str, tuple[str, ...]] = {
    "sites": ("name", "kind", "facility_type", "discovery", "retention_days"),
    "areas": ("kind", "name", "parent_id", "site_id", "floor"),
    "cameras": ("name", "site_id", "room_id", "address", "port", "credential", "profile",
                "record_profile", "recording_enabled", "retention_days", "expected_serial"),
    "terminals": ("room_id", "name"),
    "users": ("name", "role", "scope", "email", "live", "active"),
}
AREA_DEPTH = {"department": 0, "division": 1, "room": 2}

Row = dict[str, Any]


@dataclass
class Change:
    """One row to add, change or remove."""

    kind: str
    op: str  # add | change | remove | keep (a removal held back without --prune)
    id: str
    fields: dict[str, Any] = field(default_factory=dict)  # add: values; change: [old, new]

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "op": self.op, "id": self.id, "fields": self.fields}


@dataclass
class Plan:
    """Everything apply would do, in apply order."""

    changes: list[Change]
    prune: bool
    settings_changed: bool = False  # the file differs from the last applied one

    def effective(self) -> list[Change]:
        """Changes that apply will carry out (not the held-back removals)."""
        return [c for c in self.changes if c.op != "keep"]

    def count(self, kind: str, op: str) -> int:
        return sum(1 for c in self.changes if c.kind == kind and c.op == op)

    def summary(self) -> dict[str, dict[str, int]]:
        """Counts per kind and operation."""
        return {k: {op: self.count(k, op) for op in ("add", "change", "remove", "keep")}
                for k in KINDS}


def _areas(cfg: Config) -> dict[str, Row]:
    rows: dict[str, Row] = {}
    for dept in cfg.org.departments:
        rows[dept.id] = {"kind": "department", "name": dept.name, "parent_id": None,
                         "site_id": None, "floor": None}
        for div in dept.divisions:
            rows[div.id] = {"kind": "division", "name": div.name, "parent_id": dept.id,
                            "site_id": None, "floor": None}
            for room in div.rooms:
                rows[room.id] = {"kind": "room", "name": room.name, "parent_id": div.id,
                                 "site_id": room.site, "floor": room.floor}
    return rows


def _cameras(cfg: Config) -> dict[str, Row]:
    return {cam.id: {
        "name": cam.name, "site_id": cam.site, "room_id": cam.room, "address": cam.address,
        "port": cfg.camera_port(cam), "credential": cam.credential or cfg.defaults.credential,
        "profile": cam.profile or cfg.defaults.profile,
        "record_profile": cam.recording.profile or cfg.defaults.record_profile,
        "recording_enabled": cam.recording.enabled, "retention_days": cfg.retention_days(cam),
        "expected_serial": cam.serial,
    } for cam in cfg.cameras}


def desired_state(cfg: Config) -> dict[str, dict[str, Row]]:
    """The inventory the config describes, kind -> id -> fields."""
    return {
        "sites": {s.id: {"name": s.name, "kind": s.kind, "facility_type": s.facility_type,
                         "discovery": s.discovery.model_dump(mode="json"),
                         "retention_days": s.retention_days} for s in cfg.sites},
        "areas": _areas(cfg),
        "cameras": _cameras(cfg),
        "terminals": {t.id: {"room_id": t.room, "name": t.name} for t in cfg.terminals},
        "users": {u.id: {"name": u.name, "role": u.role, "scope": u.scope, "email": u.email,
                         "live": u.live, "active": True} for u in cfg.users},
    }


def current_state(session: Session) -> dict[str, dict[str, Row]]:
    """The inventory as the database holds it, in the same shape as desired_state."""
    state: dict[str, dict[str, Row]] = {}
    for kind, model in KINDS.items():
        rows = session.scalars(select(model)).all()
        state[kind] = {r.id: {f: getattr(r, f) for f in FIELDS[kind]} for r in rows}
    return state


def _diff_kind(kind: str, want: dict[str, Row], have: dict[str, Row], prune: bool) -> list[Change]:
    changes = [Change(kind, "add", i, dict(want[i])) for i in want if i not in have]
    for i in want.keys() & have.keys():
        delta = {f: [have[i][f], want[i][f]] for f in FIELDS[kind] if have[i][f] != want[i][f]}
        if delta:
            changes.append(Change(kind, "change", i, delta))
    for i in have.keys() - want.keys():
        changes.extend(_removal(kind, i, have[i], prune))
    return sorted(changes, key=lambda c: _order(c, want, have))


def _removal(kind: str, ident: str, row: Row, prune: bool) -> list[Change]:
    # A user dropped from the file loses access at once; the row stays for the audit trail.
    if kind == "users":
        if not row["active"]:
            return []
        return [Change(kind, "change", ident, {"active": [True, False]})]
    return [Change(kind, "remove" if prune else "keep", ident)]


def _order(change: Change, want: dict[str, Row], have: dict[str, Row]) -> tuple:
    row = want.get(change.id) or have.get(change.id) or {}
    depth = AREA_DEPTH.get(row.get("kind", ""), 0) if change.kind == "areas" else 0
    if change.op == "remove":
        depth = -depth
    return ({"add": 0, "change": 0, "keep": 1, "remove": 1}[change.op], depth, change.id)


def plan_changes(session: Session, cfg: Config, prune: bool = False) -> Plan:
    """What applying cfg would change in the database."""
    want, have = desired_state(cfg), current_state(session)
    changes: list[Change] = []
    for kind in KINDS:
        changes += [c for c in _diff_kind(kind, want[kind], have[kind], prune) if c.op != "remove"]
    for kind in reversed(KINDS):
        changes += [c for c in _diff_kind(kind, want[kind], have[kind], prune) if c.op == "remove"]
    return Plan(changes=changes, prune=prune)


def _apply_change(session: Session, change: Change) -> None:
    model = KINDS[change.kind]
    if change.op == "add":
        session.add(model(id=change.id, **change.fields))
    elif change.op == "change":
        row = session.get(model, change.id)
        for name, (_old, new) in change.fields.items():
            setattr(row, name, new)
    elif change.op == "remove":
        session.delete(session.get(model, change.id))
    session.flush()  # surface a constraint violation at the change that caused it


def config_changed(session: Session, cfg_text: str) -> bool:
    """Whether the file differs from the last applied one (e.g. only `access:` changed)."""
    last = session.scalar(select(m.Deployment.config_sha256)
                          .order_by(m.Deployment.id.desc()).limit(1))
    return last != hashlib.sha256(cfg_text.encode()).hexdigest()


def apply_plan(session: Session, plan: Plan, cfg_text: str, source: str) -> m.Deployment | None:
    """Carry out plan inside the caller's transaction; None when there was nothing to do.

    A new deployment row is written whenever the inventory or the file changed: running
    services rebuild their policy from the newest row, so an `access:` edit alone must
    produce one too.
    """
    todo = plan.effective()
    if not todo and not config_changed(session, cfg_text):
        return None
    for change in todo:
        _apply_change(session, change)
    if any(c.kind == "cameras" and c.op == "add" for c in todo):
        _ensure_states(session)
    deployment = m.Deployment(config_sha256=hashlib.sha256(cfg_text.encode()).hexdigest(),
                              config_text=cfg_text, source=source, summary=plan.summary())
    session.add(deployment)
    session.flush()
    return deployment


def _ensure_states(session: Session) -> None:
    have = set(session.scalars(select(m.CameraState.camera_id)))
    for cam_id in session.scalars(select(m.Camera.id)):
        if cam_id not in have:
            session.add(m.CameraState(camera_id=cam_id))
