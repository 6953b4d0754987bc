"""The ops console's overview: per site the cameras not recording, spool and upload lag,
store, database and disk health, a retention forecast, discovery findings, the last
deployment and device rollout. Read from the database and the recorders' heartbeats.
"""

from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from camerahub.db import models as m
from camerahub.db.types import utcnow
from camerahub.storage import SegmentStore
from camerahub.storage.errors import StorageError
from camerahub.times import wire_time

from .cameras import all_cameras
from .health import Thresholds, recorders

# Findings ops is asked to look at (discovery's kinds).
FINDING_KINDS = ("new", "missing", "moved", "replaced", "clock_skew", "unauthorized",
                 "unreachable", "drift", "untrusted_uri", "untrusted_certificate", "not_onvif",
                 "malformed")
RATE_WINDOW = timedelta(hours=1)  # the current rate: bytes stored in the last hour
PROBE_KEY = "_camerahub/health/probe"  # looked up (HEAD) to see that the store answers


@dataclass(frozen=True)
class Where:
    """What the overview looks at besides the database."""

    data_dir: Path
    store_root: Path | None = None  # a FileStore's directory (None: an S3 bucket)
    retention_days: int = 30
    thresholds: Thresholds = Thresholds()


def disk(path: Path) -> dict[str, Any]:
    """Free and total bytes of the filesystem holding path (its nearest existing parent)."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        usage = shutil.disk_usage(probe)
    except OSError as exc:
        return {"path": str(path), "ok": False, "error": type(exc).__name__}
    return {"path": str(path), "ok": True, "free_bytes": usage.free, "total_bytes": usage.total,
            "free_ratio": round(usage.free / usage.total, 4) if usage.total else None}


def store_health(store: SegmentStore) -> dict[str, Any]:
    """Whether the footage store answers (one HEAD of a key that need not exist)."""
    try:
        store.head(PROBE_KEY)
    except StorageError as exc:
        return {"ok": False, "error": type(exc).__name__}
    except Exception as exc:  # noqa: BLE001 - any failure of the store is "not ok", said once
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True}


def database_health(sessions: sessionmaker[Session]) -> dict[str, Any]:
    """Whether the database answers a trivial query."""
    try:
        with sessions() as s:
            s.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True}


def stored_rate(session: Session, now: datetime) -> int:
    """Bytes per day at the current rate (segments that started within the last hour), one
    index seek per camera (never a scan of the whole segment index)."""
    per_camera = (select(func.coalesce(func.sum(m.Segment.bytes), 0))
                  .where(m.Segment.camera_id == m.Camera.id,
                         m.Segment.start >= now - RATE_WINDOW).scalar_subquery())
    total = sum(int(n or 0) for n in session.scalars(select(per_camera)))
    return int(total * (timedelta(days=1) / RATE_WINDOW))


def forecast(rate_per_day: int, store_disk: dict | None, retention_days: int,
             spool: dict[str, Any]) -> dict[str, Any]:
    """How long the store and the spool hold footage at the current rate."""
    out: dict[str, Any] = {"bytes_per_day": rate_per_day, "retention_days": retention_days,
                           "store_days": None, "spool_hours": None}
    if rate_per_day <= 0:
        return out
    if store_disk is not None and store_disk.get("ok"):
        # a file store keeps retention_days at most; the disk may hold fewer
        out["store_days"] = round(min(float(retention_days),
                                      store_disk["free_bytes"] / rate_per_day), 1)
    else:
        out["store_days"] = float(retention_days)  # a bucket: retention decides
    room = [v for v in (spool.get("limit_bytes"), spool.get("disk_free_bytes")) if v]
    if room:
        free = max(0, min(room) - (spool.get("bytes") or 0))
        out["spool_hours"] = round(free / (rate_per_day / 24), 1)
    return out


def spool_summary(beats: list[dict]) -> dict[str, Any]:
    """Spool bytes, oldest segment not uploaded and upload lag over the live recorders."""
    live = [b for b in beats if b["alive"]]
    oldest = min((b["oldest_unuploaded"] for b in live if b.get("oldest_unuploaded")),
                 default=None)
    limits = [b["spool_limit_bytes"] for b in live if b.get("spool_limit_bytes")]
    frees = [b["spool_disk_free_bytes"] for b in live if b.get("spool_disk_free_bytes")]
    return {"bytes": sum(b.get("spool_bytes") or 0 for b in live),
            "segments": sum(b.get("spool_segments") or 0 for b in live),
            "oldest_unuploaded": oldest,
            "upload_lag_s": max((b.get("upload_lag_s") or 0.0 for b in live), default=0.0),
            "limit_bytes": sum(limits) or None,
            "disk_free_bytes": min(frees) if frees else None,
            "over_limit": any(b.get("spool_bytes") and b.get("spool_limit_bytes")
                              and b["spool_bytes"] > b["spool_limit_bytes"] for b in live)}


def _sites(session: Session, cams: list[dict]) -> list[dict]:
    names = dict(session.execute(select(m.Site.id, m.Site.name)).all())
    by_site: dict[str, list[dict]] = {}
    for cam in cams:
        by_site.setdefault(cam["site"], []).append(cam)
    out = []
    for site_id, site_cams in by_site.items():
        disabled = [c for c in site_cams if (c["health"] or {}).get("why_not") == "disabled"]
        stopped = [c for c in site_cams if not (c["health"] or {}).get("recording")
                   and c not in disabled]
        out.append({"id": site_id, "name": names.get(site_id, site_id),
                    "cameras": len(site_cams),
                    "online": sum(1 for c in site_cams
                                  if (c["health"] or {}).get("online") == "online"),
                    "recording": len(site_cams) - len(stopped) - len(disabled),
                    "not_recorded": len(disabled),
                    "not_recording": [{
                        "id": c["id"], "name": c["name"], "room_name": c["room_name"],
                        "floor": c["floor"], "online": c["health"]["online"],
                        "why_not": c["health"]["why_not"], "since": c["health"]["since"],
                        "last_error": c["health"]["last_error"]} for c in stopped]})
    return out


def _findings(cams: list[dict], session: Session, now: datetime) -> dict[str, Any]:
    counts: Counter[str] = Counter()
    items = []
    states = {s.camera_id: s for s in session.scalars(select(m.CameraState))}
    names = {c["id"]: (c["name"], c["site_name"]) for c in cams}
    for cam_id, state in sorted(states.items()):
        for f in state.findings or []:
            if not isinstance(f, dict) or f.get("kind") not in FINDING_KINDS:
                continue
            counts[f["kind"]] += 1
            name, site = names.get(cam_id, (cam_id, None))
            items.append({"camera": cam_id, "name": name, "site_name": site, "kind": f["kind"],
                          "severity": f.get("severity"),
                          "message": str(f.get("message", ""))[:300]})
    new = session.scalars(select(m.Event).where(m.Event.kind == "discovery.new",
                                                m.Event.at >= now - timedelta(days=1))
                          .order_by(m.Event.at.desc()).limit(50))
    for event in new:
        counts["new"] += 1
        items.append({"camera": None, "name": (event.data or {}).get("address"),
                      "site_name": None, "kind": "new", "severity": event.severity,
                      "message": event.message[:300]})
    return {"counts": dict(sorted(counts.items())), "items": items[:200]}


def _deployment(session: Session) -> dict[str, Any] | None:
    dep = session.scalars(select(m.Deployment).order_by(m.Deployment.id.desc()).limit(1)).first()
    if dep is None:
        return None
    return {"id": dep.id, "applied_at": wire_time(dep.applied_at),
            "config_sha256": dep.config_sha256, "summary": dep.summary}


def _rollout(session: Session) -> dict[str, Any] | None:
    event = session.scalars(select(m.Event).where(m.Event.kind == "deploy.devices")
                            .order_by(m.Event.id.desc()).limit(1)).first()
    if event is None:
        return None
    return {"at": wire_time(event.at), "severity": event.severity, "message": event.message,
            **{k: (event.data or {}).get(k) for k in ("summary", "failed", "applied")}}


def overview(sessions: sessionmaker[Session], store: SegmentStore, where: Where,
             alarms: list[dict] | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Everything the ops console shows, in one document."""
    now = now or utcnow()
    db = database_health(sessions)
    with sessions() as session:
        cams = all_cameras(session)
        beats = recorders(session, now, where.thresholds)
        spool = spool_summary(beats)
        rate = stored_rate(session, now)
        store_disk = disk(where.store_root) if where.store_root is not None else None
        body = {
            "at": wire_time(now),
            "totals": {"cameras": len(cams),
                       "online": sum(1 for c in cams
                                     if (c["health"] or {}).get("online") == "online"),
                       "recording": sum(1 for c in cams if (c["health"] or {}).get("recording")),
                       "not_recorded": sum(1 for c in cams
                                           if (c["health"] or {}).get("why_not") == "disabled")},
            "sites": _sites(session, cams),
            "cameras": [{"id": c["id"], "name": c["name"], "site": c["site"],
                         "site_name": c["site_name"], "room_name": c["room_name"],
                         "floor": c["floor"], "health": c["health"]} for c in cams],
            "spool": spool,
            "health": {"database": db, "store": store_health(store),
                       "disk": {"data": disk(where.data_dir), "store": store_disk},
                       "recorders": beats},
            "forecast": forecast(rate, store_disk, where.retention_days, spool),
            "findings": _findings(cams, session, now),
            "deployment": _deployment(session),
            "rollout": _rollout(session),
            "alarms": alarms or [],
        }
    return body
