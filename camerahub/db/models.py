"""SQLAlchemy models of the inventory, the segment index, incidents and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from .types import BigId, UTCDateTime, utcnow


class Base(DeclarativeBase):
    """Declarative base of every camerahub table."""

    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


# --- inventory (written by deploy apply) -------------------------------------------------


class Site(Base):
    __tablename__ = "sites"
    id: Mapped[str] = mapped_column(String(63), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    facility_type: Mapped[str | None] = mapped_column(String(200))
    discovery: Mapped[dict[str, Any]] = mapped_column(default=dict)
    retention_days: Mapped[int | None]


class Area(Base):
    """A department, division or room; rooms have a site, every area but departments a parent."""

    __tablename__ = "areas"
    id: Mapped[str] = mapped_column(String(63), primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"))
    site_id: Mapped[str | None] = mapped_column(ForeignKey("sites.id", ondelete="RESTRICT"))
    floor: Mapped[int | None]


class Camera(Base):
    __tablename__ = "cameras"
    id: Mapped[str] = mapped_column(String(63), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="RESTRICT"))
    room_id: Mapped[str] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"))
    address: Mapped[str] = mapped_column(String(253), unique=True)
    port: Mapped[int]
    credential: Mapped[str | None] = mapped_column(String(63))
    profile: Mapped[str] = mapped_column(String(64))
    record_profile: Mapped[str] = mapped_column(String(64))
    recording_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    retention_days: Mapped[int]
    expected_serial: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CameraState(Base):
    """What camerahub last learned about a camera: reachability, identity, findings."""

    __tablename__ = "camera_state"
    camera_id: Mapped[str] = mapped_column(
        ForeignKey("cameras.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(20), default="unknown")
    last_seen: Mapped[datetime | None]
    endpoint: Mapped[str | None] = mapped_column(String(128))
    serial: Mapped[str | None] = mapped_column(String(128))
    manufacturer: Mapped[str | None] = mapped_column(String(128))
    model: Mapped[str | None] = mapped_column(String(128))
    firmware: Mapped[str | None] = mapped_column(String(128))
    mac: Mapped[str | None] = mapped_column(String(32))
    clock_offset_s: Mapped[float | None]
    recording: Mapped[str] = mapped_column(String(20), default="idle")
    findings: Mapped[list[Any]] = mapped_column(default=list)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Terminal(Base):
    __tablename__ = "terminals"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    room_id: Mapped[str] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"))
    name: Mapped[str | None] = mapped_column(String(200))


class User(Base):
    """A person; role and scope come from the YAML, the password hash from the CLI."""

    __tablename__ = "users"
    id: Mapped[str] = mapped_column(String(63), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    scope: Mapped[str | None] = mapped_column(String(63))
    email: Mapped[str | None] = mapped_column(String(254))
    live: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    password_changed_at: Mapped[datetime | None]
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    token_version: Mapped[int] = mapped_column(Integer, default=0)


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    scope: Mapped[str] = mapped_column(String(128))
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    key_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class Deployment(Base):
    """Each applied configuration, so services can reload policy and ops can see history."""

    __tablename__ = "deployments"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    applied_at: Mapped[datetime] = mapped_column(default=utcnow)
    config_sha256: Mapped[str] = mapped_column(String(64))
    config_text: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(1024))
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)


# --- recordings ----------------------------------------------------------------------------


class Segment(Base):
    """One stored footage segment; the key alone also tells camera and time."""

    __tablename__ = "segments"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    camera_id: Mapped[str] = mapped_column(String(63))
    site_id: Mapped[str] = mapped_column(String(63))
    start: Mapped[datetime]
    end: Mapped[datetime]
    duration_ms: Mapped[int]
    bytes: Mapped[int] = mapped_column(BigId)
    sha256: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(512), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="stored")
    held: Mapped[bool] = mapped_column(Boolean, default=False)
    stored_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (Index("ix_segments_camera_start", "camera_id", "start"),)


class Gap(Base):
    """An interval without footage, and why."""

    __tablename__ = "gaps"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    camera_id: Mapped[str] = mapped_column(String(63))
    start: Mapped[datetime]
    end: Mapped[datetime | None]
    cause: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(String(500))
    __table_args__ = (Index("ix_gaps_camera_start", "camera_id", "start"),)


class Event(Base):
    """Operational events: findings, alarms, recorder state changes."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(48))
    severity: Mapped[str] = mapped_column(String(12), default="info")
    camera_id: Mapped[str | None] = mapped_column(String(63), index=True)
    message: Mapped[str] = mapped_column(String(1000))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class RecorderHeartbeat(Base):
    """A recorder process saying it is alive, with its spool and uploads (one row each)."""

    __tablename__ = "recorder_heartbeats"
    id: Mapped[str] = mapped_column(String(128), primary_key=True)  # host:pid
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    cameras: Mapped[int] = mapped_column(Integer, default=0)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


# --- incidents and evidence ------------------------------------------------------------------


class Alert(Base):
    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source_id: Mapped[str] = mapped_column(String(63))
    alert_id: Mapped[str] = mapped_column(String(128))
    rule: Mapped[str] = mapped_column(String(200))
    employee_id: Mapped[str] = mapped_column(String(64))
    terminal_id: Mapped[str] = mapped_column(String(64))
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    severity: Mapped[str] = mapped_column(String(16))
    text: Mapped[str | None] = mapped_column(Text)
    flags: Mapped[list[Any]] = mapped_column(default=list)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    __table_args__ = (UniqueConstraint("source_id", "alert_id", name="uq_alert_source_id"),)


class Incident(Base):
    __tablename__ = "incidents"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="open")
    employee_id: Mapped[str | None] = mapped_column(String(64))
    room_id: Mapped[str | None] = mapped_column(String(63))
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    reason: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(Text)
    opened_by: Mapped[str] = mapped_column(String(128))  # a typed actor (audit.actors)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None]


class IncidentNote(Base):
    """A bookmark or note on a moment of an incident's footage (who wrote it is audited)."""

    __tablename__ = "incident_notes"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # bookmark | note
    at: Mapped[datetime | None]  # the moment of footage it is about
    camera_id: Mapped[str | None] = mapped_column(String(63))
    text: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Hold(Base):
    """A legal hold on a camera's footage in a range; released only by crisis-management."""

    __tablename__ = "holds"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    camera_id: Mapped[str] = mapped_column(String(63), index=True)
    start: Mapped[datetime]
    end: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    released_at: Mapped[datetime | None]
    released_by: Mapped[str | None] = mapped_column(String(128))


class Grant(Base):
    """Time-boxed playback of named cameras and footage range, for one user."""

    __tablename__ = "grants"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    user_id: Mapped[str] = mapped_column(String(63), index=True)
    camera_id: Mapped[str] = mapped_column(String(63))
    action: Mapped[str] = mapped_column(String(16), default="playback")
    footage_start: Mapped[datetime]
    footage_end: Mapped[datetime]
    expires_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


# --- audit -----------------------------------------------------------------------------------


class AuditEntry(Base):
    """Append-only, hash-chained record of every access decision and change."""

    __tablename__ = "audit_entries"
    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(128), index=True)
    role: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(48), index=True)
    decision: Mapped[str] = mapped_column(String(12))
    camera_id: Mapped[str | None] = mapped_column(String(63), index=True)
    footage_start: Mapped[datetime | None]
    footage_end: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(String(2000))
    incident_id: Mapped[int | None] = mapped_column(BigId)
    client: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


# --- live wall ---------------------------------------------------------------------------------


class LiveView(Base):
    """A user's saved live wall: layout, filters (site, floor, room), page cycle; by name."""

    __tablename__ = "live_views"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_live_views_user_name"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(63), index=True)
    name: Mapped[str] = mapped_column(String(60))
    layout: Mapped[int]
    cycle_s: Mapped[int] = mapped_column(default=0)
    filters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
