"""The segment index: one idempotent insert per uploaded segment that reports held footage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from camerahub.config import load_config
from camerahub.db import models as m
from camerahub.db import segments as index
from camerahub.db.engine import inventory_write, open_database
from camerahub.deploy import apply_plan, plan_changes
from camerahub.storage import segment_key
from tests.support.paths import EXAMPLES

NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


def test_index_segment_is_one_idempotent_insert_that_reports_holds(db_url):
    _, sessions = open_database(db_url)
    cfg = load_config(EXAMPLES / "minimal.yaml")
    with inventory_write(sessions) as s:
        apply_plan(s, plan_changes(s, cfg), "x", "t")
    cam, start = "hq-1f-koseki-01", NOW - timedelta(hours=1)
    with sessions.begin() as s:
        s.add(m.Hold(camera_id=cam, start=start + timedelta(seconds=15),
                     end=start + timedelta(seconds=40), created_by="kiki-sato"))

    def add(offset_s: int, sha: str = "a" * 64) -> bool:
        seg_start = start + timedelta(seconds=offset_s)
        with sessions.begin() as s:
            return index.index_segment(
                s, camera_id=cam, site_id="hq", start=seg_start,
                end=seg_start + timedelta(seconds=10), nbytes=1000, sha256=sha,
                key=segment_key("hq", cam, seg_start, 10_000, "ts"))

    assert [add(0), add(10), add(40)] == [False, True, False]
    assert add(10, "b" * 64) is True  # a second report of the same key changes nothing
    with sessions() as s:
        rows = s.execute(select(m.Segment.start, m.Segment.held, m.Segment.sha256)
                         .order_by(m.Segment.start)).all()
    assert [(r.held, r.sha256) for r in rows] == [(False, "a" * 64), (True, "a" * 64),
                                                  (False, "a" * 64)]
    assert rows[1].start == start + timedelta(seconds=10)
