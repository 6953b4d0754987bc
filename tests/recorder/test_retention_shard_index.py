"""Retention sweeps, stable shards and rebuilding the index from a bucket listing."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from camerahub.cli import main
from camerahub.config import load_config
from camerahub.db import models as m
from camerahub.db import segments as index
from camerahub.db.engine import inventory_write, open_database
from camerahub.deploy import apply_plan, plan_changes
from camerahub.recorder import in_shard, parse_shard, shard_of
from camerahub.retention import RetentionSweeper
from camerahub.storage import FileStore, S3Settings, S3Store, segment_key
from tests.support.paths import EXAMPLES

NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


@pytest.fixture
def inventory(sqlite_url):
    _, sessions = open_database(sqlite_url)
    cfg = load_config(EXAMPLES / "minimal.yaml")
    with inventory_write(sessions) as s:
        apply_plan(s, plan_changes(s, cfg), "x", "t")
    return sessions


def _put(store, sessions, cam, start, tmp_path, held=False):
    body = f"{cam}{start}".encode()
    path = tmp_path / "seg.ts"
    path.write_bytes(body)
    sha = hashlib.sha256(body).hexdigest()
    key = segment_key("hq", cam, start, 10_000, "ts")
    store.put(key, path, sha)
    with sessions.begin() as s:
        index.add_segment(s, camera_id=cam, site_id="hq", start=start,
                          end=start + timedelta(seconds=10), nbytes=len(body), sha256=sha,
                          key=key)
        if held:
            s.add(m.Hold(camera_id=cam, start=start, end=start + timedelta(seconds=10),
                         created_by="kiki-sato"))
            index.hold_segments(s, cam, start, start + timedelta(seconds=10))
    return key


def test_sweep_deletes_expired_unheld_and_keeps_held(inventory, tmp_path):
    store = FileStore(tmp_path / "store")
    old = NOW - timedelta(days=31)
    expired = [_put(store, inventory, "hq-1f-koseki-01", old + timedelta(seconds=10 * i),
                    tmp_path) for i in range(3)]
    held = _put(store, inventory, "hq-1f-koseki-01", old + timedelta(seconds=30), tmp_path,
                held=True)
    fresh = _put(store, inventory, "hq-1f-koseki-01", NOW - timedelta(days=1), tmp_path)
    report = RetentionSweeper(inventory, store, now=lambda: NOW).sweep()
    assert report.deleted == 3 and not report.failed
    assert sorted(store.iter_keys("")) == sorted([held, fresh])
    with inventory() as s:
        assert sorted(s.scalars(select(m.Segment.key))) == sorted([held, fresh])
    assert not set(expired) & set(store.iter_keys(""))


def test_object_lock_legal_hold_blocks_deletion_even_if_the_index_forgot(inventory, tmp_path,
                                                                         moto_s3):
    bucket = moto_s3.bucket(object_lock=True)
    store = S3Store(S3Settings(bucket=bucket, endpoint_url=moto_s3.endpoint, path_style=True))
    key = _put(store, inventory, "hq-1f-koseki-02", NOW - timedelta(days=40), tmp_path)
    store.set_legal_hold(key, True)
    report = RetentionSweeper(inventory, store, now=lambda: NOW).sweep()
    assert report.locked == 1 and report.deleted == 0
    assert list(store.iter_keys("")) == [key]
    with inventory() as s:
        assert s.scalar(select(m.Segment.key)) == key


def test_shards_cover_every_camera_exactly_once():
    ids = [f"cam-{i:03d}" for i in range(100)]
    for count in (1, 2, 3, 7):
        shards = [in_shard(ids, i, count) for i in range(count)]
        assert sorted(sum(shards, [])) == ids
    assert shard_of("hq-1f-koseki-01", 3) == shard_of("hq-1f-koseki-01", 3)
    assert parse_shard("2/3") == (2, 3)
    for bad in ("3/3", "x", "-1/2", "1/0", "1/2/3"):
        with pytest.raises(ValueError):
            parse_shard(bad)


def test_record_rejects_a_bad_shard_with_exit_2(inventory, sqlite_url, monkeypatch, capsys):
    monkeypatch.setenv("CAMERAHUB_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("CAMERAHUB_CONFIG", str(EXAMPLES / "minimal.yaml"))
    assert main(["record", "--shard", "4/3"]) == 2
    assert "need 0 <= I < N" in capsys.readouterr().err
    assert main(["record", "--cameras", "nope"]) == 2


def test_index_rebuild_from_the_store_listing(inventory, tmp_path, sqlite_url, monkeypatch,
                                             capsys):
    store_dir = tmp_path / "store"
    store = FileStore(store_dir)
    keys = [_put(store, inventory, "hq-1f-koseki-01", NOW + timedelta(seconds=10 * i), tmp_path)
            for i in range(5)]
    junk = tmp_path / "junk"
    junk.write_bytes(b"x")
    store.put("hq/notes.txt", junk, hashlib.sha256(b"x").hexdigest())
    with inventory.begin() as s:
        for seg in s.scalars(select(m.Segment)):
            s.delete(seg)
    cfg = tmp_path / "c.yaml"
    cfg.write_text((EXAMPLES / "minimal.yaml").read_text(encoding="utf-8")
                   + f"storage: {{backend: file, file: {{path: {store_dir}}}}}\n", encoding="utf-8")
    monkeypatch.setenv("CAMERAHUB_DATABASE_URL", sqlite_url)
    assert main(["index", "rebuild", "--config", str(cfg), "--json"]) == 0
    assert '"added": 5' in capsys.readouterr().out
    with inventory() as s:
        rows = list(s.scalars(select(m.Segment).order_by(m.Segment.start)))
    assert [r.key for r in rows] == keys
    assert rows[0].end - rows[0].start == timedelta(seconds=10)
    assert main(["index", "rebuild", "--config", str(cfg), "--json"]) == 0
    assert '"present": 5' in capsys.readouterr().out
