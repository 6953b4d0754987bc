"""Alerts in, incidents out: holds on the room's footage and time-boxed grants to its managers.

Everything of one alert is written in one transaction (alert, incident, holds, grants, audit);
object-store legal holds and notifications follow the commit, because neither can be rolled
back and neither may block or undo the record.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from camerahub import audit
from camerahub.audit import actors
from camerahub.authz import changes
from camerahub.authz.accounts import Principal
from camerahub.authz.authorizer import Authorizer
from camerahub.authz.grants import create_grant
from camerahub.authz.incidents import check_may_approve, check_may_open, needs_approval
from camerahub.config import Config
from camerahub.config.users import Role
from camerahub.db import models as m
from camerahub.db import segments as index
from camerahub.db.types import utcnow
from camerahub.errors import ErrorKind

from .errors import IncidentError
from .evidence import bundle_to_temp
from .notify import Notifier
from .schemas import AlertIn, ManualIncidentIn, TransitionIn, as_utc

log = logging.getLogger(__name__)
OPEN_STATES = ("open", "reviewing")
PENDING = "pending_approval"  # a manager's own incident in incident mode: held, not granted
# "open" is reached from PENDING only through approve(); closing a pending incident rejects
# (crisis-management) or withdraws (its opener) it.
NEXT_STATE = {PENDING: {"closed"}, "open": {"reviewing", "closed"}, "reviewing": {"closed"},
              "closed": set()}
# Who an incident's footage may be granted to (others never see footage).
GRANTEE_ROLES = (Role.DIVISION_MANAGER, Role.DEPARTMENT_HEAD, Role.CRISIS_MANAGEMENT)


@dataclass
class IntakeResult:
    """What an alert did."""

    alert_row: int
    incident_id: int | None
    duplicate: bool = False
    joined: bool = False
    flags: list[str] = field(default_factory=list)
    recipients: list[str] = field(default_factory=list)


@dataclass
class _Outcome:
    """Side effects to run after commit."""

    held_keys: list[str] = field(default_factory=list)
    freed_keys: list[str] = field(default_factory=list)
    notify: tuple[str, dict, list[str]] | None = None


class IncidentService:
    """Opens, joins, moves and closes incidents; places and releases holds."""

    def __init__(self, cfg: Config, sessions: sessionmaker[Session],
                 notifier: Notifier | None = None, store=None,
                 now: Callable[[], datetime] = utcnow):
        self.cfg = cfg
        self.sessions = sessions
        self.notifier = notifier
        self.store = store
        self.now = now

    # --- alerts ------------------------------------------------------------------------------

    def ingest_alert(self, source_id: str, alert: AlertIn, client: str | None = None
                     ) -> IntakeResult:
        """Record an alert; open or join the incident for its employee and room."""
        outcome = _Outcome()
        with self.sessions.begin() as s:
            result = self._ingest(s, source_id, alert, client, outcome)
        self._after_commit(outcome)
        return result

    def _ingest(self, s: Session, source_id: str, alert: AlertIn, client: str | None,
                outcome: _Outcome) -> IntakeResult:
        dup = s.scalar(select(m.Alert).where(m.Alert.source_id == source_id,
                                             m.Alert.alert_id == alert.alert_id))
        if dup is not None:
            audit.append(s, actor=_source(source_id), action="alert.duplicate",
                         decision="info", client=client, incident_id=dup.incident_id,
                         detail={"alert_id": alert.alert_id})
            return IntakeResult(dup.id, dup.incident_id, duplicate=True, flags=list(dup.flags))
        row = self._alert_row(source_id, alert)
        s.add(row)
        terminal = s.get(m.Terminal, alert.terminal_id)
        if terminal is None:
            return self._unknown_terminal(s, row, source_id, client)
        actor = _source(source_id)
        incident, joined = self._open_or_join(s, "alert", terminal.room_id, alert.employee_id,
                                              row.window_start, row.window_end, actor,
                                              reason=f"{alert.rule}: {alert.text or ''}".strip())
        s.flush()
        row.incident_id = incident.id
        audit.append(s, actor=actor, action="alert.received", decision="info", client=client,
                     incident_id=incident.id, detail=_alert_detail(alert, joined))
        recipients = self._protect(s, incident, row.window_start, row.window_end, actor, (),
                                   outcome)
        outcome.notify = ("incident.joined" if joined else "incident.opened",
                          _incident_payload(incident, alert), recipients)
        return IntakeResult(row.id, incident.id, joined=joined, recipients=recipients)

    def _alert_row(self, source_id: str, alert: AlertIn) -> m.Alert:
        return m.Alert(source_id=source_id, alert_id=alert.alert_id, rule=alert.rule,
                       employee_id=alert.employee_id, terminal_id=alert.terminal_id,
                       window_start=as_utc(alert.window.start),
                       window_end=as_utc(alert.window.end), severity=alert.severity,
                       text=alert.text, flags=[])

    def _unknown_terminal(self, s: Session, row: m.Alert, source_id: str,
                          client: str | None) -> IntakeResult:
        row.flags = ["unknown_terminal"]
        s.flush()
        s.add(m.Event(kind="alert.unknown_terminal", severity="warning",
                      message=f"alert {row.alert_id} names unknown terminal {row.terminal_id}",
                      data={"alert_id": row.alert_id, "source": source_id}))
        audit.append(s, actor=_source(source_id), action="alert.received",
                     decision="info", client=client,
                     detail={"alert_id": row.alert_id, "flags": row.flags})
        return IntakeResult(row.id, None, flags=row.flags)

    # --- incidents ---------------------------------------------------------------------------

    def _open_or_join(self, s: Session, kind: str, room_id: str, employee: str | None,
                      start: datetime, end: datetime, actor: str,
                      reason: str | None, pending: bool = False) -> tuple[m.Incident, bool]:
        found = None
        if employee:
            found = s.scalar(select(m.Incident).where(
                m.Incident.employee_id == employee, m.Incident.room_id == room_id,
                m.Incident.state.in_(OPEN_STATES)).order_by(m.Incident.id).limit(1))
        if found is not None:
            found.window_start = min(found.window_start, start)
            found.window_end = max(found.window_end, end)
            return found, True
        incident = m.Incident(kind=kind, state=PENDING if pending else "open",
                              employee_id=employee, room_id=room_id, window_start=start,
                              window_end=end, reason=reason, opened_by=actor)
        s.add(incident)
        s.flush()
        audit.append(s, actor=actor, action="incident.open", decision="info",
                     incident_id=incident.id, reason=reason,
                     detail={"room": room_id, "employee": employee, "kind": kind,
                             "state": incident.state})
        return incident, False

    def _held_range(self, start: datetime, end: datetime) -> tuple[datetime, datetime]:
        """The window widened by the configured margin: what is held and granted."""
        margin = timedelta(minutes=self.cfg.incidents.margin_minutes)
        return start - margin, end + margin

    def _protect(self, s: Session, incident: m.Incident, start: datetime, end: datetime,
                 actor: str, extra_users: Iterable[str], outcome: _Outcome,
                 grant: bool = True) -> list[str]:
        """Hold the room's footage around the window and (unless grant is False) grant it to
        the room's managers and extra_users; returns who was granted."""
        h_start, h_end = self._held_range(start, end)
        cameras = room_cameras(s, incident.room_id)
        for cam in cameras:
            s.add(m.Hold(incident_id=incident.id, camera_id=cam, start=h_start, end=h_end,
                         created_by=actor))
            outcome.held_keys += index.hold_segments(s, cam, h_start, h_end)
        s.flush()
        audit.append(s, actor=actor, action="hold.place", decision="info",
                     incident_id=incident.id, footage_start=h_start, footage_end=h_end,
                     detail={"cameras": cameras, "segments": len(outcome.held_keys)})
        if not grant:
            return []
        users = sorted(set(room_managers(s, incident.room_id)) | set(extra_users))
        self._grant(s, incident, users, cameras, h_start, h_end, actor)
        return users

    def _grant(self, s: Session, incident: m.Incident, users: Sequence[str],
               cameras: Sequence[str], start: datetime, end: datetime, actor: str) -> None:
        """Each user may play the held footage until grant_hours from now (audited)."""
        if not cameras:
            return  # a room without cameras has no footage to grant
        now = self.now()
        expires = now + timedelta(hours=self.cfg.incidents.grant_hours)
        for user in users:
            create_grant(s, user_id=user, camera_ids=cameras, footage_start=start,
                         footage_end=end, expires_at=expires, created_by=actor,
                         incident_id=incident.id, now=now)

    def open_manual(self, who: Principal, authz: Authorizer, req: ManualIncidentIn,
                    client: str | None = None) -> m.Incident:
        """An incident opened by a person with a written reason (holds and grants as alerts).

        Who may open it where, and grant whom, is authz.incidents' rule, checked here inside
        the transaction. When that rule says it needs approval, the footage is held at once
        but granted only by approve().
        """
        outcome = _Outcome()
        with self.sessions.begin() as s:
            check_may_open(s, authz, who, req.room_id, req.grant_to)
            room = s.get(m.Area, req.room_id)
            if room is None or room.kind != "room":
                raise IncidentError(ErrorKind.NOT_FOUND, f"unknown room {req.room_id!r}")
            self._check_grantees(s, req.grant_to)
            pending = needs_approval(authz, who)
            start, end = as_utc(req.window.start), as_utc(req.window.end)
            actor = who.subject
            incident, _ = self._open_or_join(s, "manual", room.id, None, start, end, actor,
                                             reason=req.reason, pending=pending)
            granted = self._protect(s, incident, start, end, actor, [who.id, *req.grant_to],
                                    outcome, grant=not pending)
            if pending:
                outcome.notify = ("incident.pending_approval", _incident_payload(incident, None),
                                  sorted({who.id, *crisis_managers(s)}))
            else:
                outcome.notify = ("incident.opened", _incident_payload(incident, None),
                                  sorted({who.id, *granted}))
        self._after_commit(outcome)
        return incident

    def approve(self, incident_id: int, who: Principal, authz: Authorizer,
                client: str | None = None) -> m.Incident:
        """Crisis-management approves a pending incident: its grants are created now.

        The grants go to the room's own department head and managers and to the opener, over
        the held range, for grant_hours from now; the approval is audited.
        """
        outcome = _Outcome()
        with self.sessions.begin() as s:
            incident = self._get(s, incident_id)
            check_may_approve(authz, who, incident)
            if incident.state != PENDING:
                raise IncidentError(ErrorKind.CONFLICT,
                                    f"incident {incident_id} is {incident.state}, not {PENDING}")
            opener = _opener_user(incident)
            users = sorted(set(room_managers(s, incident.room_id))
                           | ({opener} if opener else set()))
            start, end = self._held_range(incident.window_start, incident.window_end)
            self._grant(s, incident, users, room_cameras(s, incident.room_id), start, end,
                        who.subject)
            incident.state = "open"
            audit.append(s, actor=who.subject, role=who.role, action="incident.approve",
                         decision="info", incident_id=incident.id, client=client,
                         footage_start=start, footage_end=end,
                         detail={"opened_by": incident.opened_by, "granted": users})
            outcome.notify = ("incident.approved", _incident_payload(incident, None), users)
        self._after_commit(outcome)
        return incident

    def _check_grantees(self, s: Session, users: Iterable[str]) -> None:
        for uid in users:
            user = s.get(m.User, uid)
            if user is None or not user.active or user.role not in GRANTEE_ROLES:
                raise IncidentError(ErrorKind.INVALID, f"cannot grant footage to {uid!r}")

    def transition(self, incident_id: int, user_id: str, req: TransitionIn) -> m.Incident:
        """Move an incident forward; closing needs an outcome and ends its grants."""
        with self.sessions.begin() as s:
            incident = self._get(s, incident_id)
            if req.state not in NEXT_STATE[incident.state]:
                raise IncidentError(ErrorKind.CONFLICT,
                                    f"cannot go from {incident.state} to {req.state}")
            if req.state == "closed" and not req.outcome:
                raise IncidentError(ErrorKind.INVALID, "closing an incident needs an outcome")
            incident.state, incident.outcome = req.state, req.outcome or incident.outcome
            if req.state == "closed":
                incident.closed_at = self.now()
                ending = (m.Grant.incident_id == incident.id) & m.Grant.revoked_at.is_(None)
                users = set(s.scalars(select(m.Grant.user_id).where(ending)))
                s.execute(update(m.Grant).where(ending).values(revoked_at=self.now()))
                changes.on_commit(s, users)  # their open live sessions re-decide at once
            audit.append(s, actor=actors.user(user_id), action=f"incident.{req.state}",
                         decision="info", incident_id=incident.id, reason=req.outcome)
        return incident

    def release_holds(self, incident_id: int, user_id: str) -> int:
        """Release every active hold of an incident (crisis-management decides, the API checks)."""
        outcome = _Outcome()
        with self.sessions.begin() as s:
            incident = self._get(s, incident_id)
            holds = s.scalars(select(m.Hold).where(m.Hold.incident_id == incident.id,
                                                   m.Hold.released_at.is_(None))).all()
            for hold in holds:
                outcome.freed_keys += index.release_hold(s, hold, actors.user(user_id))
            audit.append(s, actor=actors.user(user_id), action="hold.release", decision="info",
                         incident_id=incident.id,
                         detail={"holds": len(holds), "segments_freed": len(outcome.freed_keys)})
        self._after_commit(outcome)
        return len(holds)

    def export(self, incident_id: int, user_id: str, client: str | None = None,
               role: str | None = None, unmasked: bool = False,
               reason: str | None = None) -> Path:
        """The incident's signed evidence bundle in a temporary file (see evidence.py).

        Clips are masked as each camera's `privacy` says; an unmasked bundle needs the
        crisis-management role and a stated reason, both recorded with the export.
        """
        if unmasked:
            check_unmasked(role, reason, self.cfg.access.reason_min_length)
        privacy = {cam.id: cam.privacy for cam in self.cfg.cameras if cam.privacy.active}
        return bundle_to_temp(self.sessions, self.store, self.cfg.export, incident_id,
                              actors.user(user_id), client, privacy,
                              reason.strip() if unmasked and reason else None)

    def _get(self, s: Session, incident_id: int) -> m.Incident:
        incident = s.get(m.Incident, incident_id)
        if incident is None:
            raise IncidentError(ErrorKind.NOT_FOUND, f"no incident {incident_id}")
        return incident

    # --- after commit ------------------------------------------------------------------------

    def _after_commit(self, outcome: _Outcome) -> None:
        self._object_holds(outcome.held_keys, True)
        self._object_retention(outcome.held_keys)
        self._object_holds(outcome.freed_keys, False)
        if outcome.notify and self.notifier is not None:
            event, payload, recipients = outcome.notify
            delivery = self.notifier.incident(event, payload, recipients)
            if delivery.failed:
                self._event("notify.failed", "warning",
                            f"notification failed: {', '.join(delivery.failed)}", payload)

    def _object_holds(self, keys: Sequence[str], on: bool) -> None:
        if not keys or self.store is None or not self.store.legal_hold_supported:
            return
        failed = []
        for key in keys:
            try:
                self.store.set_legal_hold(key, on)
            except Exception as exc:  # noqa: BLE001 - the index flag still protects the segment
                log.warning("legal hold %s on %s failed: %s", on, key, exc)
                failed.append(key)
        if failed:
            self._event("hold.object_failed", "warning",
                        f"object legal hold could not be set on {len(failed)} objects",
                        {"keys": failed[:50], "on": on})

    def _object_retention(self, keys: Sequence[str]) -> None:
        """Give held objects an Object Lock retention period, where configured and possible.

        A legal hold can be lifted by whoever may lift it; a retention period cannot be
        shortened (compliance) or only with a special permission (governance), so held
        evidence outlives a mistaken release. Released footage stays until that date.
        """
        s3 = self.cfg.storage.s3 if self.cfg.storage.backend == "s3" else None
        rule = s3.hold_retention if s3 is not None else None
        if not keys or rule is None or self.store is None or not self.store.retention_supported:
            return
        until = self.now() + timedelta(days=rule.days)
        done, failed = 0, []
        for key in keys:
            try:
                done += bool(self.store.set_retention(key, rule.mode, until))
            except Exception as exc:  # noqa: BLE001 - the hold itself still protects it
                log.warning("object retention on %s failed: %s", key, exc)
                failed.append(key)
        with self.sessions.begin() as s:
            audit.append(s, actor=actors.actor(actors.SYSTEM, "incidents"),
                         action="hold.object_lock", decision="fail" if failed else "info",
                         detail={"mode": rule.mode, "until": until.isoformat(),
                                 "objects": done, "failed": failed[:50]})
        if failed:
            self._event("hold.object_retention_failed", "warning",
                        f"object retention could not be set on {len(failed)} objects",
                        {"keys": failed[:50], "mode": rule.mode})

    def _event(self, kind: str, severity: str, message: str, data: dict) -> None:
        with self.sessions.begin() as s:
            s.add(m.Event(kind=kind, severity=severity, message=message[:1000],
                          data=_jsonable(data)))


def room_cameras(s: Session, room_id: str | None) -> list[str]:
    """Ids of the cameras in a room."""
    return list(s.scalars(select(m.Camera.id).where(m.Camera.room_id == room_id)
                          .order_by(m.Camera.id)))


def crisis_managers(s: Session) -> list[str]:
    """Active crisis-management users (they approve pending incidents)."""
    return list(s.scalars(select(m.User.id).where(
        m.User.active.is_(True), m.User.role == Role.CRISIS_MANAGEMENT.value)
        .order_by(m.User.id)))


def _opener_user(incident: m.Incident) -> str | None:
    """The user id of a person who opened an incident (None for an alert source)."""
    try:
        kind, ident = actors.parse(incident.opened_by)
    except ValueError:
        return None
    return ident if kind == actors.USER else None


def room_managers(s: Session, room_id: str | None) -> list[str]:
    """Active division managers and department heads responsible for a room."""
    room = s.get(m.Area, room_id) if room_id else None
    division = s.get(m.Area, room.parent_id) if room and room.parent_id else None
    if division is None:
        return []
    conds = [(m.User.role == Role.DIVISION_MANAGER.value) & (m.User.scope == division.id)]
    if division.parent_id:
        conds.append((m.User.role == Role.DEPARTMENT_HEAD.value)
                     & (m.User.scope == division.parent_id))
    return list(s.scalars(select(m.User.id).where(m.User.active.is_(True), or_(*conds))
                          .order_by(m.User.id)))


def _source(source_id: str) -> str:
    """The typed actor of an alert source."""
    return actors.actor(actors.ALERT_SOURCE, source_id)


def _alert_detail(alert: AlertIn, joined: bool) -> dict:
    return {"alert_id": alert.alert_id, "rule": alert.rule, "employee": alert.employee_id,
            "terminal": alert.terminal_id, "severity": alert.severity, "joined": joined}


def _incident_payload(incident: m.Incident, alert: AlertIn | None) -> dict:
    data = {"incident_id": incident.id, "state": incident.state, "room": incident.room_id,
            "employee": incident.employee_id,
            "window_start": incident.window_start.isoformat(),
            "window_end": incident.window_end.isoformat()}
    if alert is not None:
        data |= {"alert_id": alert.alert_id, "rule": alert.rule, "severity": alert.severity}
    return data


def check_unmasked(role: str | None, reason: str | None, min_length: int) -> None:
    """An export without privacy masks: crisis-management only, with a stated reason."""
    if role != Role.CRISIS_MANAGEMENT:
        raise IncidentError(ErrorKind.FORBIDDEN,
                            "an unmasked export needs the crisis-management role")
    if reason is None or len(reason.strip()) < min_length:
        raise IncidentError(ErrorKind.INVALID, "an unmasked export needs a reason of at least "
                                               f"{min_length} characters")


def _jsonable(data: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in data.items()}
