"""Held footage under S3 Object Lock retention (governance or compliance), on moto's server.

A legal hold can be lifted by whoever may release holds; a retention period cannot be
shortened, so the evidence outlives a mistaken release. The retention sweep then counts the
object as locked and keeps its index row, and every deletion it does make is on the record.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from camerahub import audit
from camerahub.config import load_config
from camerahub.config.services import HoldRetention, S3Storage
from camerahub.db import models as m
from camerahub.db import segments as index
from camerahub.db.engine import inventory_write, open_database
from camerahub.deploy import apply_plan, plan_changes
from camerahub.incidents import AlertIn, IncidentService
from camerahub.retention import RetentionSweeper
from camerahub.storage import (
    FileStore,
    ObjectLocked,
    S3Settings,
    S3Store,
    StorageError,
    segment_key,
)
from tests.support.paths import EXAMPLES

CAM = "hq-1f-koseki-01"


def _store(moto_s3, object_lock=True) -> S3Store:
    bucket = moto_s3.bucket(object_lock=object_lock)
    return S3Store(S3Settings(bucket=bucket, endpoint_url=moto_s3.endpoint, path_style=True))


def _put(store, sessions, tmp_path, start) -> str:
    body = f"{CAM}{start}".encode()
    sha = hashlib.sha256(body).hexdigest()
    key = segment_key("hq", CAM, start, 10_000, "ts")
    path = tmp_path / "seg.ts"
    path.write_bytes(body)
    store.put(key, path, sha)
    with sessions.begin() as s:
        index.add_segment(s, camera_id=CAM, site_id="hq", start=start,
                          end=start + timedelta(seconds=10), nbytes=len(body), sha256=sha,
                          key=key)
    return key


@pytest.mark.parametrize("mode", ["governance", "compliance"])
def test_retention_is_set_extended_never_shortened_and_blocks_deletion(moto_s3, tmp_path, mode):
    store = _store(moto_s3)
    path = tmp_path / "x.ts"
    path.write_bytes(b"evidence")
    store.put("hq/x.ts", path, hashlib.sha256(b"evidence").hexdigest())
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    assert store.retention_supported
    assert store.set_retention("hq/x.ts", mode, until)
    info = store.head("hq/x.ts")
    assert info.retention_mode == mode.upper() and info.retain_until == until
    assert not store.set_retention("hq/x.ts", mode, until - timedelta(days=1))  # never shorter
    assert store.head("hq/x.ts").retain_until == until
    assert store.set_retention("hq/x.ts", mode, until + timedelta(days=1))
    with pytest.raises(ObjectLocked):
        store.delete("hq/x.ts")
    assert store.head("hq/x.ts") is not None
    with pytest.raises(ValueError):
        store.set_retention("hq/x.ts", "forever", until)


def test_stores_without_object_lock_refuse_retention(moto_s3, tmp_path):
    until = datetime.now(UTC) + timedelta(days=1)
    plain = _store(moto_s3, object_lock=False)
    files = FileStore(tmp_path / "files")
    for store in (plain, files):
        assert not store.retention_supported
        with pytest.raises(StorageError):
            store.set_retention("hq/x.ts", "governance", until)


@pytest.fixture
def deployed(sqlite_url):
    cfg = load_config(EXAMPLES / "nakano.yaml")
    _, sessions = open_database(sqlite_url)
    with inventory_write(sessions) as s:
        apply_plan(s, plan_changes(s, cfg), "x", "test")
    return cfg, sessions


def _with_hold_retention(cfg, bucket: str):
    """The example deployment on an S3 bucket whose held footage gets 90 days of governance."""
    s3 = S3Storage(bucket=bucket, hold_retention=HoldRetention(mode="governance", days=90))
    return cfg.model_copy(update={"storage": cfg.storage.model_copy(
        update={"backend": "s3", "s3": s3})})


def test_a_hold_gives_its_objects_retention_that_outlives_the_release(deployed, moto_s3,
                                                                     tmp_path):
    cfg, sessions = deployed
    store = _store(moto_s3)
    cfg = _with_hold_retention(cfg, store.settings.bucket)
    now = datetime.now(UTC).replace(microsecond=0)
    t0 = now - timedelta(days=40)
    held = [_put(store, sessions, tmp_path, t0 + timedelta(seconds=10 * i)) for i in range(3)]
    loose = _put(store, sessions, tmp_path, t0 - timedelta(hours=2))
    svc = IncidentService(cfg, sessions, store=store, now=lambda: now)
    result = svc.ingest_alert("log-analyzer", AlertIn(
        alert_id="A-1", rule="mass-lookup", employee_id="E1001",
        terminal_id="T-HQ-1F-KOSEKI-01", severity="high", text="短時間に大量の住民記録を照会",
        window={"start": t0, "end": t0 + timedelta(seconds=30)}))
    for key in held:
        info = store.head(key)
        assert info.legal_hold and info.retention_mode == "GOVERNANCE"
        assert info.retain_until >= now + timedelta(days=90) - timedelta(seconds=1)
    assert store.head(loose).retention_mode is None
    svc.release_holds(result.incident_id, "kiki-sato")
    assert not store.head(held[0]).legal_hold  # released, yet still retained
    report = RetentionSweeper(sessions, store, now=lambda: now).sweep()
    assert report.deleted == 1 and report.locked == 3
    with sessions() as s:
        assert sorted(s.scalars(select(m.Segment.key))) == sorted(held)
        lock = s.scalars(select(m.AuditEntry).where(m.AuditEntry.action == "hold.object_lock")
                         ).one()
        assert lock.detail["mode"] == "governance" and lock.detail["objects"] == 3
        assert lock.decision == "info"
        deleted = s.scalars(select(m.AuditEntry)
                            .where(m.AuditEntry.action == "retention.delete")).all()
        assert [(e.camera_id, e.detail["segments"]) for e in deleted] == [(CAM, 1)]
        assert audit.verify(s).ok
