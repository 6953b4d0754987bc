"""Read the inventory for reconciliation; write camera state and discovery events."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from camerahub.db import models as m

from .model import DeviceResult, Finding, KnownCamera

# An unconfigured device is announced once a day, not on every five-minute round.
NEW_DEVICE_REPEAT = timedelta(hours=24)


def load_known(session: Session) -> list[KnownCamera]:
    """Every inventory camera with its last trusted identity."""
    rows = session.execute(
        select(m.Camera, m.CameraState)
        .outerjoin(m.CameraState, m.CameraState.camera_id == m.Camera.id)
        .order_by(m.Camera.id))
    return [KnownCamera(
        id=cam.id, site=cam.site_id, address=cam.address, port=cam.port,
        credential=cam.credential, expected_serial=cam.expected_serial,
        endpoint=state.endpoint if state else None, serial=state.serial if state else None,
        status=state.status if state else "unknown") for cam, state in rows]


def save_results(session: Session, results: list[DeviceResult], now: datetime) -> list[m.Event]:
    """Update CameraState rows and add an Event for each finding that is new."""
    events: list[m.Event] = []
    recent_new = _recent_new_devices(session, now)
    for result in results:
        if result.camera_id is None:
            events += _new_device_events(session, result, recent_new, now)
        else:
            events += _save_camera(session, result, now)
    session.add_all(events)
    return events


def _save_camera(session: Session, result: DeviceResult, now: datetime) -> list[m.Event]:
    """State of one inventory camera; events only for findings it did not have before."""
    state = session.get(m.CameraState, result.camera_id)
    if state is None:
        state = m.CameraState(camera_id=result.camera_id, findings=[], details={})
        session.add(state)
    before = {f.get("kind") for f in (state.findings or []) if isinstance(f, dict)}
    state.status = result.status
    if result.sighting is not None and result.sighting.seen:
        state.last_seen = now
    _save_identity(state, result)
    state.findings = [f.as_json() for f in result.findings]
    return [_event(f, result.camera_id, now) for f in result.findings if f.kind not in before]


def _save_identity(state: m.CameraState, result: DeviceResult) -> None:
    """Adopt what the device reports, except after a replacement: then the trusted identity
    stays and what answered is kept aside under details.observed."""
    rep = result.report
    observed: dict[str, Any] = {"endpoint": result.endpoint}
    if rep is not None:
        info = rep.info
        observed.update(serial=info.serial, manufacturer=info.manufacturer, model=info.model,
                        firmware=info.firmware, mac=rep.mac)
    details = dict(state.details or {})
    if result.replaced:
        details["observed"] = observed
        state.details = details
        return
    details.pop("observed", None)
    for key, value in observed.items():
        if value is not None:
            setattr(state, key, value)
    if rep is not None:
        state.clock_offset_s = rep.clock_offset_s
        details.update(xaddr=rep.xaddr, snapshot_uri=rep.snapshot_uri,
                       unsupported=list(rep.missing),
                       profiles=[{"token": p.token, "width": p.width, "height": p.height,
                                  "fps": p.fps, "codec": p.codec, "stream_uri": p.stream_uri}
                                 for p in rep.profiles])
    state.details = details


def _recent_new_devices(session: Session, now: datetime) -> set[str]:
    """Endpoints and addresses of unconfigured devices announced within the repeat window."""
    rows = session.scalars(select(m.Event).where(
        m.Event.kind == "discovery.new", m.Event.at >= now - NEW_DEVICE_REPEAT))
    seen: set[str] = set()
    for event in rows:
        seen.update(str(v) for k, v in (event.data or {}).items()
                    if k in ("endpoint", "address") and v)
    return seen


def _new_device_events(session: Session, result: DeviceResult, recent: set[str],
                       now: datetime) -> list[m.Event]:
    """discovery.new for an unconfigured device not announced recently."""
    key = result.endpoint or result.address
    if key in recent:
        return []
    recent.add(key)
    events = []
    for finding in result.findings:
        if finding.kind == "new":
            data = {**finding.data, "address": result.address, "endpoint": result.endpoint}
            events.append(_event(Finding("new", finding.message, data), None, now))
    return events


def _event(finding: Finding, camera_id: str | None, now: datetime) -> m.Event:
    """An Event row for a finding."""
    return m.Event(at=now, kind=f"discovery.{finding.kind}", severity=finding.severity,
                   camera_id=camera_id, message=finding.message[:1000],
                   data=finding.data)
