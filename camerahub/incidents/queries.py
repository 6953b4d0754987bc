"""Reading incidents as one caller may see them: the list, one incident, and its parts.

Who takes part in what is decided in camerahub.authz.incidents; this module only fetches.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from camerahub.authz.accounts import Principal
from camerahub.authz.authorizer import Authorizer
from camerahub.authz.errors import NotVisible
from camerahub.authz.incidents import sees_every_grant, takes_part, visible_incidents_filter
from camerahub.db import models as m

MAX_LISTED = 500


@dataclass(frozen=True)
class IncidentParts:
    """What an incident holds, as far as the caller may see it."""

    alerts: list[m.Alert]
    holds: list[m.Hold]
    grants: list[m.Grant]  # every grant for overseers, else only the caller's own


def visible_incidents(session: Session, authz: Authorizer, who: Principal,
                      state: str | None = None) -> list[m.Incident]:
    """The newest incidents the caller takes part in, optionally in one state."""
    stmt = select(m.Incident).order_by(m.Incident.id.desc()).limit(MAX_LISTED)
    if state:
        stmt = stmt.where(m.Incident.state == state)
    condition = visible_incidents_filter(session, authz, who)
    if condition is not None:
        stmt = stmt.where(condition)
    return list(session.scalars(stmt))


def incident_for(session: Session, authz: Authorizer, who: Principal,
                 incident_id: int) -> m.Incident:
    """One incident, or NotVisible alike when it is missing or the caller takes no part."""
    incident = session.get(m.Incident, incident_id)
    if incident is None or not takes_part(session, authz, who, incident):
        raise NotVisible("incident not found")
    return incident


def incident_parts(session: Session, authz: Authorizer, who: Principal,
                   incident: m.Incident) -> IncidentParts:
    """The incident's alerts and holds, and the grants the caller may see."""
    alerts = session.scalars(select(m.Alert).where(m.Alert.incident_id == incident.id))
    holds = session.scalars(select(m.Hold).where(m.Hold.incident_id == incident.id))
    grants = select(m.Grant).where(m.Grant.incident_id == incident.id)
    if not sees_every_grant(authz, who):
        grants = grants.where(m.Grant.user_id == who.id)
    return IncidentParts(list(alerts), list(holds), list(session.scalars(grants)))
