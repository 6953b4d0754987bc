"""Who takes part in which incident, and who may open one by hand.

A person takes part in an incident when they oversee all incidents (crisis-management, the
`incident` permission on "all"), opened it, hold a grant from it, or manage the department
or division its room belongs to. Only USER principals take part: an API key's id is a key
name and a media token speaks for one camera's media only. `opened_by` holds a typed actor
(user:<id>, alert-source:<id>), so it is compared with the caller's typed subject.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, false, or_, select
from sqlalchemy.orm import Session

from camerahub.config.users import SCOPED_ROLES
from camerahub.db import models as m

from .accounts import Principal, PrincipalKind
from .authorizer import Authorizer
from .errors import NotVisible, PermissionDenied
from .policy import ROOT


def oversees(authz: Authorizer, who: Principal) -> bool:
    """Does the caller see and handle every incident (crisis-management)?"""
    return who.kind == PrincipalKind.USER and authz.allowed(who.id, ROOT, "incident")


def in_area(session: Session, who: Principal, room_id: str) -> bool:
    """Is the room inside the caller's department or division?"""
    if who.kind != PrincipalKind.USER or not who.scope:
        return False
    room = session.get(m.Area, room_id)
    if room is None or room.kind != "room":
        return False
    division = session.get(m.Area, room.parent_id) if room.parent_id else None
    return who.scope in {room.parent_id, division.parent_id if division else None}


def area_rooms(session: Session, who: Principal) -> list[str]:
    """Every room inside the caller's department or division."""
    rooms = session.scalars(select(m.Area.id).where(m.Area.kind == "room"))
    return [room for room in rooms if in_area(session, who, room)]


def takes_part(session: Session, authz: Authorizer, who: Principal,
               incident: m.Incident) -> bool:
    """May the caller see this incident? (The SQL twin is visible_incidents_filter.)"""
    if who.kind != PrincipalKind.USER:
        return False
    if oversees(authz, who) or incident.opened_by == who.subject:
        return True
    granted = session.scalar(select(m.Grant.id).where(
        m.Grant.incident_id == incident.id, m.Grant.user_id == who.id).limit(1))
    return granted is not None or in_area(session, who, incident.room_id or "")


def visible_incidents_filter(session: Session, authz: Authorizer,
                             who: Principal) -> ColumnElement[bool] | None:
    """A WHERE condition on Incident for the incidents the caller takes part in; None: all."""
    if who.kind != PrincipalKind.USER:
        return false()
    if oversees(authz, who):
        return None
    granted = select(m.Grant.incident_id).where(m.Grant.user_id == who.id)
    return or_(m.Incident.opened_by == who.subject, m.Incident.id.in_(granted),
               m.Incident.room_id.in_(area_rooms(session, who)))


def sees_every_grant(authz: Authorizer, who: Principal) -> bool:
    """Does the caller see every grant of an incident (else only their own)?"""
    return oversees(authz, who)


def check_may_open(session: Session, authz: Authorizer, who: Principal, room_id: str,
                   grant_to: Iterable[str] = ()) -> None:
    """Crisis-management anywhere; a department head or manager in their own area, granting
    footage only to that area's own head and managers (report 4 (2) イ: 担当する部署の映像のみ).
    """
    if who.kind != PrincipalKind.USER:
        raise PermissionDenied("incidents are opened by people")
    if oversees(authz, who):
        return
    if who.role not in SCOPED_ROLES:
        raise PermissionDenied("incident is not permitted")
    if not in_area(session, who, room_id):
        raise NotVisible(f"unknown room {room_id!r}")
    for user_id in grant_to:
        if not responsible_for(session, user_id, room_id):
            raise PermissionDenied(f"cannot grant footage to {user_id!r}: a manager's incident "
                                   "grants only the room's own department head and managers")


def responsible_for(session: Session, user_id: str, room_id: str) -> bool:
    """Is user_id an active department head or manager whose area holds the room?"""
    user = session.get(m.User, user_id)
    if user is None or not user.active or user.role not in SCOPED_ROLES:
        return False
    return in_area(session, Principal(PrincipalKind.USER, user.id, user.role, user.scope),
                   room_id)


def needs_approval(authz: Authorizer, who: Principal) -> bool:
    """Does this person's incident open footage only once crisis-management approves it?

    In `incident` mode managers have no standing footage access; an incident they open
    themselves would hand them that access with no alert and no second person, so its
    grants wait for crisis-management's approval (report 4 (2) イ and ウ).
    """
    return not oversees(authz, who) and authz.inventory.manager_playback == "incident"


def check_may_approve(authz: Authorizer, who: Principal, incident: m.Incident) -> None:
    """Crisis-management approves, and never an incident of their own (a second person)."""
    if not oversees(authz, who):
        raise PermissionDenied("only crisis-management approves incidents")
    if incident.opened_by == who.subject:
        raise PermissionDenied("an incident is approved by someone other than its opener")


def check_may_move(session: Session, authz: Authorizer, who: Principal, incident: m.Incident,
                   state: str) -> None:
    """Who may change an incident's state (report 4 (2) ウ; README, "Past footage and incidents").

    - reviewing: crisis-management, or a manager (division manager, department head) of the
      incident's room: the general manager is the one who checks the footage.
    - closed (with an outcome): crisis-management only. Closing ends every grant and settles
      a case about one of the manager's own staff; the manager records what they found in
      notes, and a second person outside the line of management closes it.
    Everyone else who takes part (a grantee from another area, the opener) reads only.
    """
    if oversees(authz, who):
        return
    if (state == "reviewing" and who.kind == PrincipalKind.USER and who.role in SCOPED_ROLES
            and in_area(session, who, incident.room_id or "")):
        return
    if state == "closed":
        raise PermissionDenied("only crisis-management closes incidents")
    raise PermissionDenied("only the room's managers or crisis-management review incidents")
