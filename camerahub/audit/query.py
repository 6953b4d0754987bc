"""Reading the audit trail: filtered pages, CSV for the committee, per-division summary.

Entries quote hostile input and may hold any time a writer gave, so rendering never fails:
times a zone cannot show are given in UTC, text that cannot be encoded is replaced. If
reading fails mid-export anyway, the CSV ends with a line saying it is incomplete and the
stream is aborted, so a cut-short export never passes for a whole one.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, aliased

from camerahub.db import models as m
from camerahub.times import wire_time

from . import actors
from .log import SURROGATES

log = logging.getLogger(__name__)
CSV_COLUMNS = ("seq", "at_utc", "at_local", "actor", "role", "action", "decision", "camera_id",
               "footage_start_utc", "footage_end_utc", "footage_start_local",
               "footage_end_local", "reason", "incident_id", "client", "detail", "hash")
FOOTAGE_ACTIONS = ("live", "playback", "export", "snapshot", "thumbnail")
INCOMPLETE = "# EXPORT INCOMPLETE: reading the audit trail failed after entry {seq}; do not use"


@dataclass(frozen=True)
class AuditFilter:
    """Which entries to return; every field optional, all given ones must match."""

    user: str | None = None
    camera: str | None = None
    action: str | None = None
    decision: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    division: str | None = None  # a division or department: entries on its rooms' cameras

    def apply(self, stmt: Select) -> Select:
        """Add this filter's conditions to a select over AuditEntry.

        `action` matches the action itself or, given without a dot, every action of that
        family ("incident" matches incident.open and incident.closed; "auth" auth.login).
        """
        e = m.AuditEntry
        user = actors.as_filter(self.user) if self.user is not None else None
        for column, value in ((e.actor, user), (e.camera_id, self.camera),
                              (e.decision, self.decision)):
            if value is not None:
                stmt = stmt.where(column == value)
        if self.action is not None:
            family = self.action if "." not in self.action else None
            stmt = stmt.where(or_(e.action == self.action,
                                  e.action.startswith(f"{family}.", autoescape=True))
                              if family else e.action == self.action)
        if self.division is not None:
            stmt = stmt.where(or_(e.camera_id.in_(_area_cameras(self.division)),
                                  e.incident_id.in_(_area_incidents(self.division))))
        if self.start is not None:
            stmt = stmt.where(e.at >= self.start)
        if self.end is not None:
            stmt = stmt.where(e.at < self.end)
        return stmt


def _area_rooms(area_id: str) -> Select:
    """Rooms of a division, or of a department's divisions (or the room itself)."""
    division = select(m.Area.id).where(or_(m.Area.id == area_id, m.Area.parent_id == area_id))
    return select(m.Area.id).where(m.Area.kind == "room",
                                   or_(m.Area.id == area_id, m.Area.parent_id.in_(division)))


def _area_cameras(area_id: str) -> Select:
    return select(m.Camera.id).where(m.Camera.room_id.in_(_area_rooms(area_id)))


def _area_incidents(area_id: str) -> Select:
    return select(m.Incident.id).where(m.Incident.room_id.in_(_area_rooms(area_id)))


@dataclass(frozen=True)
class Names:
    """Display names of people, cameras and areas, for entries that store ids."""

    users: dict[str, str]
    cameras: dict[str, str]
    areas: dict[str, str]
    camera_rooms: dict[str, str]
    incident_rooms: dict[int, str | None]

    def actor(self, actor: str) -> str | None:
        kind, _, ident = actor.partition(":")
        return self.users.get(ident) if kind == "user" else None


def names(session: Session, incident_ids: set[int] | None = None) -> Names:
    """The inventory's names (small tables: read whole) and the rooms of given incidents."""
    rooms = {}
    if incident_ids:
        rooms = dict(session.execute(select(m.Incident.id, m.Incident.room_id)
                                     .where(m.Incident.id.in_(incident_ids))).all())
    return Names(users=dict(session.execute(select(m.User.id, m.User.name)).all()),
                 cameras=dict(session.execute(select(m.Camera.id, m.Camera.name)).all()),
                 areas=dict(session.execute(select(m.Area.id, m.Area.name)).all()),
                 camera_rooms=dict(session.execute(select(m.Camera.id, m.Camera.room_id)).all()),
                 incident_rooms=rooms)


def with_names(item: dict[str, Any], e: m.AuditEntry, n: Names) -> dict[str, Any]:
    """An entry_dict with the names of its actor, camera, room, grantee and incident room."""
    detail = e.detail if isinstance(e.detail, dict) else {}
    room = n.camera_rooms.get(e.camera_id or "") or n.incident_rooms.get(e.incident_id or 0)
    grantee = detail.get("user") if isinstance(detail.get("user"), str) else None
    item["names"] = safe({
        "actor": n.actor(e.actor), "camera": n.cameras.get(e.camera_id or ""),
        "room": n.areas.get(room or ""), "grantee": n.users.get(grantee or ""),
        "cameras": [n.cameras.get(str(c), str(c)) for c in detail.get("cameras", ())
                    if isinstance(detail.get("cameras"), list)]})
    return item


def search(session: Session, flt: AuditFilter, limit: int, offset: int
           ) -> tuple[list[m.AuditEntry], int]:
    """One page of matching entries, oldest first, and the total count."""
    total = session.scalar(flt.apply(select(func.count()).select_from(m.AuditEntry))) or 0
    stmt = flt.apply(select(m.AuditEntry)).order_by(m.AuditEntry.seq).limit(limit).offset(offset)
    return list(session.scalars(stmt)), total


def iter_entries(session: Session, flt: AuditFilter, batch: int = 2000
                 ) -> Iterator[m.AuditEntry]:
    """Every matching entry in order, streamed in batches."""
    stmt = flt.apply(select(m.AuditEntry)).order_by(m.AuditEntry.seq)
    yield from session.scalars(stmt.execution_options(yield_per=batch))


def _iso(value: datetime | None, tz: ZoneInfo | None = None) -> str:
    """To the second: UTC as on the rest of the wire (Z), a local time with its offset.

    A moment the zone cannot show (9999-12-31 in Tokyo is past year 9999) is given in UTC:
    the same instant, still unambiguous, instead of an error that would cut the export.
    """
    if value is None:
        return ""
    if tz is not None:
        try:
            return value.astimezone(tz).isoformat(timespec="seconds")
        except (OverflowError, ValueError):
            log.debug("audit time %r not representable in %s; shown in UTC", value, tz)
    return wire_time(value, "seconds") or ""


def safe(value: Any) -> Any:
    """value with every string UTF-8-encodable and every float finite-or-text (JSON-safe)."""
    if isinstance(value, str):
        return SURROGATES.sub("\ufffd", value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {safe(str(k)): safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [safe(v) for v in value]
    return value


def entry_dict(e: m.AuditEntry, tz: ZoneInfo) -> dict[str, Any]:
    """An entry as JSON-ready data, times in UTC and in the local zone."""
    return safe({"seq": e.seq, "at": _iso(e.at), "at_local": _iso(e.at, tz), "actor": e.actor,
                 "role": e.role, "action": e.action, "decision": e.decision,
                 "camera_id": e.camera_id, "footage_start": _iso(e.footage_start) or None,
                 "footage_end": _iso(e.footage_end) or None, "reason": e.reason,
                 "incident_id": e.incident_id, "client": e.client, "detail": e.detail,
                 "hash": e.hash})


def _csv_row(e: m.AuditEntry, tz: ZoneInfo) -> list[Any]:
    return safe([e.seq, _iso(e.at), _iso(e.at, tz), e.actor, e.role or "", e.action,
                 e.decision, e.camera_id or "", _iso(e.footage_start), _iso(e.footage_end),
                 _iso(e.footage_start, tz), _iso(e.footage_end, tz), e.reason or "",
                 "" if e.incident_id is None else e.incident_id, e.client or "",
                 _json(e.detail), e.hash])


def _json(value: Any) -> str:
    return json.dumps(safe(value), ensure_ascii=False, sort_keys=True)


def csv_chunks(session: Session, flt: AuditFilter, tz: ZoneInfo) -> Iterator[str]:
    """CSV text in chunks; starts with a BOM so spreadsheet software reads Japanese right.

    If reading fails part way, the last chunk says the export is incomplete and the error
    is raised again, so the server aborts the response instead of ending it cleanly.
    """
    buf = io.StringIO()
    writer = csv.writer(buf)
    buf.write("\ufeff")
    writer.writerow(CSV_COLUMNS)
    seq = 0
    try:
        for i, entry in enumerate(iter_entries(session, flt), 1):
            writer.writerow(_csv_row(entry, tz))
            seq = entry.seq
            if i % 500 == 0:
                yield _take(buf)
    except Exception:
        log.exception("audit CSV export failed after entry %s", seq)
        yield _take(buf) + INCOMPLETE.format(seq=seq) + "\r\n"
        raise
    yield _take(buf)


def _take(buf: io.StringIO) -> str:
    """Everything written to buf so far; buf is emptied."""
    text = buf.getvalue()
    buf.seek(0)
    buf.truncate()
    return text


def _camera_divisions(session: Session) -> dict[str, tuple[str | None, str | None]]:
    """camera id -> (division id, department id) from the inventory."""
    room, div = aliased(m.Area), aliased(m.Area)
    stmt = (select(m.Camera.id, div.id, div.parent_id)
            .join(room, room.id == m.Camera.room_id).outerjoin(div, div.id == room.parent_id))
    return {cam: (d, dept) for cam, d, dept in session.execute(stmt)}


def summary(session: Session, start: datetime, end: datetime, tz: ZoneInfo) -> dict[str, Any]:
    """Who looked at which cameras of each division in [start, end), with allow/deny counts."""
    where = AuditFilter(start=start, end=end)
    stmt = where.apply(select(m.AuditEntry)).where(m.AuditEntry.action.in_(FOOTAGE_ACTIONS))
    owners = _camera_divisions(session)
    rooms = _room_divisions(session)
    entries = list(session.scalars(stmt.order_by(m.AuditEntry.seq)))
    incidents = {e.incident_id for e in entries if e.incident_id and not e.camera_id}
    incident_rooms = names(session, incidents).incident_rooms if incidents else {}
    acc: dict[tuple, dict[str, Any]] = defaultdict(_bucket)
    users: dict[tuple, dict[str, Any]] = defaultdict(_bucket)
    for e in entries:
        if e.camera_id:
            division, department = owners.get(e.camera_id, (None, None))
        else:  # an evidence export names its incident, whose room says whose area it is
            division, department = rooms.get(incident_rooms.get(e.incident_id or 0) or "",
                                             (None, None))
        _count(acc[(division, department, e.actor, e.role, e.action)], e, tz)
        _count(users[(e.actor, e.role, e.action)], e, tz)
    n = names(session)
    divisions, people = _group(acc), _by_user(users)
    for d in divisions:
        d["division_name"] = n.areas.get(d["division"])
        d["department_name"] = n.areas.get(d["department"] or "")
        for a in d["accesses"]:
            a["user_name"] = n.actor(a["user"])
            a["camera_names"] = [n.cameras.get(c, c) for c in a["cameras"]]
    for a in people:
        a["user_name"] = n.actor(a["user"])
        a["camera_names"] = [n.cameras.get(c, c) for c in a["cameras"]]
    return safe({"start": _iso(start), "end": _iso(end), "start_local": _iso(start, tz),
                 "end_local": _iso(end, tz), "timezone": str(tz),
                 "divisions": divisions, "users": people})


def _room_divisions(session: Session) -> dict[str, tuple[str | None, str | None]]:
    """room id -> (division id, department id)."""
    div = aliased(m.Area)
    stmt = (select(m.Area.id, div.id, div.parent_id).where(m.Area.kind == "room")
            .outerjoin(div, div.id == m.Area.parent_id))
    return {room: (d, dept) for room, d, dept in session.execute(stmt)}


def _by_user(acc: dict[tuple, dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"user": actor, "role": role, "action": action, "allowed": b["allowed"],
             "denied": b["denied"], "failed": b["failed"], "cameras": sorted(b["cameras"]),
             "incidents": sorted(b["incidents"]), "first_local": b["first"],
             "last_local": b["last"]}
            for (actor, role, action), b in sorted(acc.items(), key=_key)]


def _bucket() -> dict[str, Any]:
    return {"allowed": 0, "denied": 0, "failed": 0, "cameras": set(), "reasons": set(),
            "incidents": set(), "first": None, "last": None}


OUTCOME_BUCKETS = {"allow": "allowed", "deny": "denied", "fail": "failed"}


def entry_count(e: m.AuditEntry) -> int:
    """How many requests an entry stands for: 1, or an anonymous aggregate's count."""
    count = (e.detail or {}).get("count") if (e.detail or {}).get("aggregate") else None
    return count if isinstance(count, int) and count > 0 else 1


def _count(b: dict[str, Any], e: m.AuditEntry, tz: ZoneInfo) -> None:
    b[OUTCOME_BUCKETS.get(e.decision, "denied")] += entry_count(e)
    if e.camera_id:
        b["cameras"].add(e.camera_id)
    for camera in (e.detail or {}).get("cameras", ()) if entry_count(e) > 1 else ():
        b["cameras"].add(str(camera))
    if e.reason:
        b["reasons"].add(e.reason)
    if e.incident_id:
        b["incidents"].add(e.incident_id)
    b["first"] = b["first"] or _iso(e.at, tz)
    b["last"] = _iso(e.at, tz)


def _group(acc: dict[tuple, dict[str, Any]]) -> list[dict[str, Any]]:
    out: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for (division, department, actor, role, action), b in sorted(acc.items(), key=_key):
        out[(division, department)].append({
            "user": actor, "role": role, "action": action, "allowed": b["allowed"],
            "denied": b["denied"], "failed": b["failed"], "cameras": sorted(b["cameras"]),
            "reasons": sorted(b["reasons"]), "incidents": sorted(b["incidents"]),
            "first_local": b["first"], "last_local": b["last"]})
    return [{"division": d or "(unknown camera)", "department": dept, "accesses": rows}
            for (d, dept), rows in out.items()]


def _key(item: tuple) -> tuple:
    return tuple("" if v is None else str(v) for v in item[0])
