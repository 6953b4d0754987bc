"""The viewing register (画像閲覧等記録簿) of one month, built from the audit trail.

Municipal camera rules ask for a register of every look at footage, the disposal log of
what retention deleted and the holds placed and released, reviewed and signed by a manager.
Everything here is read from the hash-chained audit trail, which is verified first: a
register printed from a broken chain says so at its top, so a reviewer never signs off a
record that could have been edited.

One register row per footage entry of the trail (live, playback, snapshot, export), one
disposal row per camera and footage day that a retention sweep deleted (written by
camerahub.retention as `retention.delete` entries), one row per hold placed or released.
Times are shown in the configured zone (Asia/Tokyo); the month is a calendar month there.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from camerahub.db import models as m
from camerahub.db.types import utcnow
from camerahub.errors import CamerahubError, ErrorKind

from . import actors
from .anchors import Anchor, check_anchor
from .log import verify
from .query import FOOTAGE_ACTIONS, entry_count, safe

MONTH_RE = re.compile(r"(\d{4})-(\d{2})")
HOLD_ACTIONS = ("hold.place", "hold.create", "hold.release")
DISPOSAL_ACTION = "retention.delete"
UNKNOWN_SITE = ""  # entries naming no known camera (anonymous aggregates, removed cameras)


class RegisterError(CamerahubError, ValueError):
    """The month or site asked for is not valid input."""

    kind = ErrorKind.INVALID


def month_bounds(month: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of a YYYY-MM calendar month in zone tz, as aware datetimes."""
    match = MONTH_RE.fullmatch(month or "")
    if not match:
        raise RegisterError(f"month must be YYYY-MM, not {month!r}")
    year, mon = int(match[1]), int(match[2])
    if not (2000 <= year <= 9998 and 1 <= mon <= 12):
        raise RegisterError(f"month {month!r} is out of range (2000-01 .. 9998-12)")
    start = datetime(year, mon, 1, tzinfo=tz)
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=tz)
    return start, end


@dataclass(frozen=True)
class Camera:
    """Where a camera is, as the register names it."""

    id: str
    name: str
    room: str
    site_id: str
    site: str


@dataclass(frozen=True)
class Access:
    """One look at footage: a register row."""

    seq: int
    at: str
    person: str
    person_name: str
    role: str
    action: str
    camera: str
    room: str
    start: str
    end: str
    purpose: str
    outcome: str
    count: int = 1
    what: str = ""  # which request: listing, clip, playlist, segment, stream, image, bundle


@dataclass(frozen=True)
class Disposal:
    """What one retention sweep deleted of one camera's footage day."""

    seq: int
    at: str
    site: str
    camera: str
    day: str
    start: str
    end: str
    segments: int
    bytes: int
    why: str


@dataclass(frozen=True)
class HoldChange:
    """A hold placed or released."""

    seq: int
    at: str
    op: str  # "place" | "release"
    person: str
    incident: str
    cameras: str
    start: str
    end: str
    note: str


@dataclass
class SiteSection:
    """The register rows of one site."""

    site_id: str
    site: str
    accesses: list[Access] = field(default_factory=list)


@dataclass
class Register:
    """One month's register, with the state of the chain it was read from."""

    month: str
    timezone: str
    generated_at: str
    chain_ok: bool
    chain_entries: int
    chain_problem: str | None
    anchor_seq: int | None
    site_filter: str | None
    sites: list[SiteSection]
    disposals: list[Disposal]
    holds: list[HoldChange]

    @property
    def chain_statement(self) -> str:
        """One line on the chain, in English (the renderers translate the verdict)."""
        if self.chain_ok:
            return f"intact ({self.chain_entries} entries)"
        return f"BROKEN: {self.chain_problem}"

    def access_count(self) -> int:
        """How many register rows (footage entries) there are."""
        return sum(len(s.accesses) for s in self.sites)


def _cameras(session: Session) -> dict[str, Camera]:
    room = aliased(m.Area)
    stmt = (select(m.Camera.id, m.Camera.name, room.name, m.Site.id, m.Site.name)
            .join(room, room.id == m.Camera.room_id).join(m.Site, m.Site.id == m.Camera.site_id))
    return {cid: Camera(cid, name, room_name, sid, site)
            for cid, name, room_name, sid, site in session.execute(stmt)}


def _people(session: Session) -> dict[str, str]:
    return {actors.user(uid): name for uid, name in session.execute(select(m.User.id, m.User.name))}


def _local(value: datetime | None, tz: ZoneInfo) -> str:
    if value is None:
        return ""
    try:
        return value.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
    except (OverflowError, ValueError):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _camera_of(e: m.AuditEntry) -> str:
    if e.camera_id:
        return e.camera_id
    named = (e.detail or {}).get("cameras")
    return str(named[0]) if isinstance(named, list) and named else ""


def _purpose(e: m.AuditEntry) -> str:
    parts = []
    if e.incident_id is not None:
        parts.append(f"incident #{e.incident_id}")
    if e.reason:
        parts.append(e.reason)
    return " / ".join(parts)


WHAT = (("/recordings", "listing"), ("/clip.mp4", "clip"), ("/playback.m3u8", "playlist"),
        (".ts", "segment"), ("/live.mp4", "stream"), ("/snapshot.jpg", "image"),
        ("/export", "bundle"))


def _what(e: m.AuditEntry) -> str:
    """Which kind of request an entry was, from its path (an HLS player fetches a playlist,
    then one segment after another: each is an entry, and the register says which)."""
    path = (e.detail or {}).get("path")
    if not isinstance(path, str):
        return "bundle" if e.action == "export" else ""
    return next((what for end, what in WHAT if path.endswith(end)), "")


def _outcome(e: m.AuditEntry) -> str:
    status = (e.detail or {}).get("status")
    return f"{e.decision} ({status})" if isinstance(status, int) else e.decision


def _access(e: m.AuditEntry, cams: dict[str, Camera], people: dict[str, str],
            tz: ZoneInfo) -> tuple[str, Access]:
    cam_id = _camera_of(e)
    cam = cams.get(cam_id)
    detail = e.detail or {}
    cameras = detail.get("cameras") if isinstance(detail.get("cameras"), list) else []
    camera = cam.name if cam else cam_id
    if cam and len(cameras) > 1:
        camera = f"{cam.name} +{len(cameras) - 1}"
    person = e.actor if e.actor != actors.ANONYMOUS else f"anonymous {e.client or ''}".strip()
    row = Access(seq=e.seq, at=_local(e.at, tz), person=person,
                 person_name=people.get(e.actor, ""), role=e.role or "", action=e.action,
                 camera=f"{camera} ({cam_id})" if cam_id else "", room=cam.room if cam else "",
                 start=_local(e.footage_start, tz), end=_local(e.footage_end, tz),
                 purpose=_purpose(e), outcome=_outcome(e), count=entry_count(e),
                 what=_what(e))
    return (cam.site_id if cam else UNKNOWN_SITE), row


def _disposal(e: m.AuditEntry, cams: dict[str, Camera], tz: ZoneInfo) -> tuple[str, Disposal]:
    d = e.detail or {}
    cam = cams.get(e.camera_id or "")
    site = str(d.get("site") or (cam.site_id if cam else ""))
    return site, Disposal(seq=e.seq, at=_local(e.at, tz), site=site,
                          camera=e.camera_id or "", day=str(d.get("day", "")),
                          start=_local(e.footage_start, tz), end=_local(e.footage_end, tz),
                          segments=_int(d.get("segments")), bytes=_int(d.get("bytes")),
                          why=e.reason or "")


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _hold(e: m.AuditEntry, tz: ZoneInfo) -> HoldChange:
    d = e.detail or {}
    cams = d.get("cameras") if isinstance(d.get("cameras"), list) else []
    cameras = ", ".join(str(c) for c in cams) or (e.camera_id or "")
    op = "release" if e.action.endswith("release") else "place"
    note = []
    if isinstance(d.get("segments"), int):
        note.append(f"segments {d['segments']}")
    if isinstance(d.get("segments_freed"), int):
        note.append(f"segments freed {d['segments_freed']}")
    if e.reason:
        note.append(e.reason)
    return HoldChange(seq=e.seq, at=_local(e.at, tz), op=op, person=e.actor,
                      incident="" if e.incident_id is None else f"#{e.incident_id}",
                      cameras=cameras, start=_local(e.footage_start, tz),
                      end=_local(e.footage_end, tz), note="; ".join(note))


def build(session: Session, month: str, tz: ZoneInfo, site: str | None = None,
          anchor: Anchor | None = None) -> Register:
    """The register of `month` (YYYY-MM in tz), optionally of one site only.

    The whole chain is verified first (and compared with `anchor` if given); the register is
    built either way, stating the verdict, since a broken chain is itself what a reviewer
    must see.
    """
    start, end = month_bounds(month, tz)
    cams = _cameras(session)
    if site is not None and site not in {c.site_id for c in cams.values()} \
            and session.get(m.Site, site) is None:
        raise RegisterError(f"unknown site {site!r}")
    result = verify(session)
    if anchor is not None:
        result = check_anchor(session, result, anchor)
    people = _people(session)
    site_names = {sid: name for sid, name in session.execute(select(m.Site.id, m.Site.name))}
    sections: dict[str, SiteSection] = {}
    disposals: dict[tuple[str, str], Disposal] = {}
    holds: list[HoldChange] = []
    actions = (*FOOTAGE_ACTIONS, *HOLD_ACTIONS, DISPOSAL_ACTION)
    stmt = (select(m.AuditEntry).where(m.AuditEntry.at >= start, m.AuditEntry.at < end,
                                       m.AuditEntry.action.in_(actions))
            .order_by(m.AuditEntry.seq).execution_options(yield_per=2000))
    for e in session.scalars(stmt):
        if e.action in FOOTAGE_ACTIONS:
            site_id, row = _access(e, cams, people, tz)
            if site is not None and site_id != site:
                continue
            section = sections.get(site_id)
            if section is None:
                section = sections[site_id] = SiteSection(site_id, site_names.get(site_id, ""))
            section.accesses.append(row)
        elif e.action == DISPOSAL_ACTION:
            site_id, row = _disposal(e, cams, tz)
            if site is None or site_id == site:
                key = (row.camera, row.day)
                disposals[key] = _merge(disposals[key], row) if key in disposals else row
        else:
            change = _hold(e, tz)
            if site is None or _hold_in_site(change, e, cams, site):
                holds.append(change)
    if site is not None and site not in sections:
        sections[site] = SiteSection(site, site_names.get(site, ""))
    ordered = sorted(sections.values(), key=lambda s: (s.site_id == UNKNOWN_SITE, s.site_id))
    return Register(month=month, timezone=str(tz), generated_at=_local(utcnow(), tz),
                    chain_ok=result.ok, chain_entries=result.entries,
                    chain_problem=result.problem if not result.ok else None,
                    anchor_seq=anchor.seq if anchor else None, site_filter=site,
                    sites=ordered, disposals=list(disposals.values()), holds=holds)


def _merge(a: Disposal, b: Disposal) -> Disposal:
    """One camera-day deleted in several batches or sweeps: one row, summed."""
    why = a.why if b.why in a.why.split("; ") else f"{a.why}; {b.why}"
    return replace(a, at=b.at, start=min(a.start, b.start), end=max(a.end, b.end),
                   segments=a.segments + b.segments, bytes=a.bytes + b.bytes, why=why)


def _hold_in_site(change: HoldChange, e: m.AuditEntry, cams: dict[str, Camera],
                  site: str) -> bool:
    named = (e.detail or {}).get("cameras")
    ids = [str(c) for c in named] if isinstance(named, list) else [e.camera_id or ""]
    if not any(ids):
        return True  # a release names only its incident: shown in every site's register
    return any(cams[c].site_id == site for c in ids if c in cams)


ACCESS_COLUMNS = ("seq", "at", "person", "person_name", "role", "action", "what", "camera",
                  "room", "start", "end", "purpose", "outcome", "count")
DISPOSAL_COLUMNS = ("seq", "at", "site", "camera", "day", "start", "end", "segments", "bytes",
                    "why")
HOLD_COLUMNS = ("seq", "at", "op", "person", "incident", "cameras", "start", "end", "note")


def csv_text(reg: Register) -> str:
    """The register as CSV (UTF-8 with BOM for spreadsheets): a header block stating the
    month, zone and chain verdict, then the accesses (with their site), the disposal log
    and the hold changes, each section starting with its own header row."""
    buf = io.StringIO()
    w = csv.writer(buf)
    buf.write("\ufeff")
    w.writerow(["# viewing register", reg.month, f"timezone {reg.timezone}",
                f"site {reg.site_filter or 'all'}", f"generated {reg.generated_at}"])
    w.writerow(["# audit chain", reg.chain_statement])
    w.writerow(["section", "site", "site_name", *ACCESS_COLUMNS])
    for section in reg.sites:
        for a in section.accesses:
            w.writerow(safe(["access", section.site_id, section.site,
                             *(getattr(a, c) for c in ACCESS_COLUMNS)]))
    w.writerow([])
    w.writerow(["section", *DISPOSAL_COLUMNS])
    for d in reg.disposals:
        w.writerow(safe(["disposal", *(getattr(d, c) for c in DISPOSAL_COLUMNS)]))
    w.writerow([])
    w.writerow(["section", *HOLD_COLUMNS])
    for h in reg.holds:
        w.writerow(safe(["hold", *(getattr(h, c) for c in HOLD_COLUMNS)]))
    return buf.getvalue()


def iter_rows(reg: Register) -> Iterator[tuple[str, Any]]:
    """(section, row) of every row, in print order (for tests and other renderers)."""
    for section in reg.sites:
        for a in section.accesses:
            yield "access", a
    for d in reg.disposals:
        yield "disposal", d
    for h in reg.holds:
        yield "hold", h


def as_dict(reg: Register) -> dict[str, Any]:
    """JSON-ready register (the web screen's data)."""
    return safe({
        "month": reg.month, "timezone": reg.timezone, "generated_at": reg.generated_at,
        "chain": {"ok": reg.chain_ok, "entries": reg.chain_entries,
                  "problem": reg.chain_problem, "anchor": reg.anchor_seq},
        "site": reg.site_filter,
        "sites": [{"site": s.site_id, "name": s.site,
                   "accesses": [a.__dict__ for a in s.accesses]} for s in reg.sites],
        "disposals": [d.__dict__ for d in reg.disposals],
        "holds": [h.__dict__ for h in reg.holds]})
