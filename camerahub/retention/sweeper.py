"""Retention: delete expired, unheld segments (object first, then index row)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from camerahub import audit
from camerahub.db import models as m
from camerahub.db import segments as index
from camerahub.db.types import utcnow
from camerahub.storage import ObjectLocked, ObjectMissing, SegmentStore, StorageError

log = logging.getLogger(__name__)


@dataclass
class SweepReport:
    """What one sweep did."""

    deleted: int = 0
    locked: int = 0
    failed: list[str] = field(default_factory=list)


class RetentionSweeper:
    """Deletes each camera's segments older than its retention, never a held one."""

    def __init__(self, sessions: sessionmaker[Session], store: SegmentStore,
                 now: Callable[[], datetime] = utcnow, batch: int = 1000,
                 max_age: timedelta | None = None):
        self.sessions, self.store, self.now, self.batch = sessions, store, now, batch
        self.max_age = max_age  # a cap below every camera's days (the demo keeps an hour)

    def sweep(self) -> SweepReport:
        """One pass over every camera; safe to run concurrently with recording."""
        report = SweepReport()
        with self.sessions() as s:
            cameras = list(s.execute(select(m.Camera.id, m.Camera.retention_days)))
        for camera_id, days in cameras:
            age = timedelta(days=days)
            if self.max_age is not None:
                age = min(age, self.max_age)
            self._camera(camera_id, self.now() - age, report)
        if report.deleted or report.failed:
            with self.sessions.begin() as s:
                audit.append(s, actor="system:retention", action="retention.sweep",
                             decision="info", detail={"deleted": report.deleted,
                                                      "locked": report.locked,
                                                      "failed": report.failed[:20]})
        return report

    def _camera(self, camera_id: str, cutoff: datetime, report: SweepReport) -> None:
        while True:
            # Select and delete under the write lock, so a hold placed meanwhile either
            # commits first (and the segment is no longer expired) or waits for this batch.
            with self.sessions.begin() as s:
                batch = list(index.expired_segments(s, camera_id, cutoff, self.batch))
                gone = [seg for seg in batch if self._delete_object(seg.key, report)]
                for seg in gone:
                    s.delete(seg)
            if len(gone) < self.batch or len(gone) < len(batch):
                return  # done, or something refused deletion: try again next sweep

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
