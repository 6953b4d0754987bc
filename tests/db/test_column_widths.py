"""Typed actors fit where they are stored, and audit entries take 64-bit incident ids, on
SQLite and PostgreSQL (migration 0002)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from camerahub import audit
from camerahub.db import models as m
from camerahub.db.engine import open_database

LONGEST_ACTOR = "alert-source:" + "a" * 63  # a source id may be 63 characters


def test_typed_actors_and_big_incident_ids_are_stored(db_url):
    _, sessions = open_database(db_url)
    t = datetime(2026, 12, 1, tzinfo=UTC)
    with sessions.begin() as s:
        incident = m.Incident(kind="alert", window_start=t, window_end=t,
                              opened_by=LONGEST_ACTOR)
        s.add(incident)
        s.flush()
        s.add(m.Hold(incident_id=incident.id, camera_id="cam", start=t, end=t,
                     created_by=LONGEST_ACTOR, released_by=LONGEST_ACTOR))
        s.add(m.Grant(incident_id=incident.id, user_id="u", camera_id="cam", footage_start=t,
                      footage_end=t, expires_at=t, created_by=LONGEST_ACTOR))
        audit.append(s, actor=LONGEST_ACTOR, action="incident.open", incident_id=2**40)
    with sessions() as s:
        assert s.scalar(select(m.Hold.created_by)) == LONGEST_ACTOR
        assert s.scalar(select(m.AuditEntry.incident_id)) == 2**40
