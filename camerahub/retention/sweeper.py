"""Retention: delete expired, unheld segments (object first, then index row), on the record.

Every deletion is written to the audit trail in the transaction that removes the index rows:
one `retention.delete` entry per camera, footage day (in the configured zone) and batch,
with the range, segment count, bytes and why (the camera's retention days and the cutoff).
Held footage past its retention is never deleted; which holds kept what, and why (the
hold's incident and reason), is in the sweep's `retention.sweep` entry.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from camerahub import audit
from camerahub.db import models as m
from camerahub.db import segments as index
from camerahub.db.types import utcnow
from camerahub.storage import ObjectLocked, ObjectMissing, SegmentStore, StorageError

log = logging.getLogger(__name__)
ACTOR = "system:retention"


@dataclass
class SweepReport:
    """What one sweep did."""

    deleted: int = 0
    locked: int = 0
    bytes: int = 0
    failed: list[str] = field(default_factory=list)
    exempt: list[dict] = field(default_factory=list)  # held past retention: hold and reason


class RetentionSweeper:
    """Deletes each camera's segments older than its retention, never a held one."""

    def __init__(self, sessions: sessionmaker[Session], store: SegmentStore,
                 now: Callable[[], datetime] = utcnow, batch: int = 1000,
                 max_age: timedelta | None = None, tz: ZoneInfo | None = None):
        self.sessions, self.store, self.now, self.batch = sessions, store, now, batch
        self.max_age = max_age  # a cap below every camera's days (the demo keeps an hour)
        self.tz = tz or ZoneInfo("Asia/Tokyo")
        self._last_exempt: list[dict] | None = None

    def sweep(self) -> SweepReport:
        """One pass over every camera; safe to run concurrently with recording."""
        report = SweepReport()
        with self.sessions() as s:
            cameras = list(s.execute(select(m.Camera.id, m.Camera.site_id,
                                            m.Camera.retention_days)))
        for camera_id, site_id, days in cameras:
            age = timedelta(days=days)
            why = f"retention {days} days"
            if self.max_age is not None and self.max_age < age:
                age, why = self.max_age, f"retention capped at {self.max_age} (demo)"
            cutoff = self.now() - age
            self._camera(camera_id, site_id, cutoff, f"{why}: ended before "
                         f"{cutoff.astimezone(self.tz).isoformat(timespec='seconds')}", report)
            report.exempt += self._exempt(camera_id, cutoff)
        if report.deleted or report.failed or report.exempt != self._last_exempt:
            with self.sessions.begin() as s:
                audit.append(s, actor=ACTOR, action="retention.sweep",
                             decision="info", detail={"deleted": report.deleted,
                                                      "bytes": report.bytes,
                                                      "locked": report.locked,
                                                      "failed": report.failed[:20],
                                                      "exempt": report.exempt[:50]})
        self._last_exempt = report.exempt
        return report

    def _camera(self, camera_id: str, site_id: str, cutoff: datetime, why: str,
                report: SweepReport) -> None:
        while True:
            # Select and delete under the write lock, so a hold placed meanwhile either
            # commits first (and the segment is no longer expired) or waits for this batch.
            with self.sessions.begin() as s:
                batch = list(index.expired_segments(s, camera_id, cutoff, self.batch))
                gone = [seg for seg in batch if self._delete_object(seg.key, report)]
                for seg in gone:
                    s.delete(seg)
                report.bytes += self._record(s, camera_id, site_id, gone, why)
            if len(gone) < self.batch or len(gone) < len(batch):
                return  # done, or something refused deletion: try again next sweep

    def _record(self, s: Session, camera_id: str, site_id: str,
                gone: Sequence[m.Segment], why: str) -> int:
        """One audit entry per footage day (local) of what this batch deleted; its bytes."""
        days: dict[str, list[m.Segment]] = defaultdict(list)
        total = 0
        for seg in gone:
            days[seg.start.astimezone(self.tz).date().isoformat()].append(seg)
        for day, segs in sorted(days.items()):
            size = sum(seg.bytes for seg in segs)
            total += size
            audit.append(s, actor=ACTOR, action="retention.delete", decision="info",
                         camera_id=camera_id, footage_start=min(g.start for g in segs),
                         footage_end=max(g.end for g in segs), reason=why,
                         detail={"site": site_id, "day": day, "segments": len(segs),
                                 "bytes": size})
        return total

    def _exempt(self, camera_id: str, cutoff: datetime) -> list[dict]:
        """Active holds keeping this camera's footage past its retention, with their reason."""
        with self.sessions() as s:
            holds = [h for h in index.active_holds(s, camera_id) if h.start < cutoff]
            out = []
            for hold in holds:
                kept = s.scalar(select(func.count()).select_from(m.Segment).where(
                    m.Segment.camera_id == camera_id, m.Segment.end < cutoff,
                    m.Segment.start < hold.end, m.Segment.end > hold.start)) or 0
                if not kept:
                    continue
                incident = s.get(m.Incident, hold.incident_id) if hold.incident_id else None
                reason = (incident.reason if incident and incident.reason else
                          f"incident #{hold.incident_id}" if hold.incident_id
                          else f"hold by {hold.created_by}")
                out.append({"camera": camera_id, "hold": hold.id,
                            "incident": hold.incident_id, "segments": kept,
                            "reason": reason[:200]})
            return out

    def _delete_object(self, key: str, report: SweepReport) -> bool:
        try:
            self.store.delete(key)
        except ObjectMissing:
            pass  # already gone: the row is all that is left to remove
        except ObjectLocked:
            report.locked += 1
            return False
        except StorageError as exc:
            log.warning("retention: cannot delete %s: %s", key, exc)
            report.failed.append(key)
            return False
        report.deleted += 1
        return True
