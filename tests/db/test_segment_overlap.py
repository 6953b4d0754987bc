"""The index never holds two segments of one camera covering the same second."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from camerahub.db import models as m
from camerahub.db import segments as index
from camerahub.db.engine import open_database
from camerahub.errors import ErrorKind
from camerahub.recordings import rebuild_index
from camerahub.storage import FileStore, segment_key

T0 = datetime(2026, 11, 26, 3, 15, tzinfo=UTC)
CAM = "hq-1f-koseki-01"


def insert(sessions, start_s: float, seconds: float = 10, camera: str = CAM,
           portable: bool = False):
    """Index one segment starting start_s after T0; the recorder's statement by default."""
    start = T0 + timedelta(seconds=start_s)
    end = start + timedelta(seconds=seconds)
    key = segment_key("hq", camera, start, round(seconds * 1000), "ts")
    add = index.add_segment if portable else index.index_segment
    with sessions.begin() as s:
        add(s, camera_id=camera, site_id="hq", start=start, end=end, nbytes=188,
            sha256="a" * 64, key=key)
    return key


def keys(sessions) -> list[str]:
    with sessions() as s:
        return list(s.scalars(select(m.Segment.key).order_by(m.Segment.start)))


@pytest.mark.parametrize("portable", [False, True], ids=["index_segment", "add_segment"])
def test_an_overlapping_segment_of_the_same_camera_is_refused(db_url, portable):
    _, sessions = open_database(db_url)
    first = insert(sessions, 0, portable=portable)
    insert(sessions, 10, portable=portable)  # abutting is fine
    insert(sessions, 5, camera="hq-1f-koseki-02", portable=portable)  # another camera
    for start_s, seconds in [(5, 10), (9.999, 1), (-5, 6), (0, 20), (2, 1)]:
        with pytest.raises(index.SegmentOverlap) as refused:
            insert(sessions, start_s, seconds, portable=portable)
        assert refused.value.kind == ErrorKind.CONFLICT
    assert insert(sessions, 0, portable=portable) == first  # the same key again: idempotent
    assert len(keys(sessions)) == 3


def test_overlapping_segment_names_the_segment_in_the_way(db_url):
    _, sessions = open_database(db_url)
    first = insert(sessions, 0)
    with sessions() as s:
        found = index.overlapping_segment(s, CAM, T0 + timedelta(seconds=3),
                                          T0 + timedelta(seconds=13), "other-key")
        assert found == first
        assert index.overlapping_segment(s, CAM, T0 + timedelta(seconds=3),
                                         T0 + timedelta(seconds=4), first) is None
        assert index.overlapping_segment(s, CAM, T0 + timedelta(seconds=10),
                                         T0 + timedelta(seconds=20), "x") is None


def test_rebuilding_the_index_skips_overlapping_objects(sqlite_url, tmp_path):
    """Objects stored before the index refused overlaps (or by two misconfigured recorders)
    are counted, not indexed twice over the same seconds."""
    _, sessions = open_database(sqlite_url)
    store = FileStore(tmp_path / "store")
    body = tmp_path / "body.ts"
    body.write_bytes(b"\x47" + bytes(187))
    sha = hashlib.sha256(body.read_bytes()).hexdigest()
    for start_s in (0, 10, 15):  # the third overlaps the second
        key = segment_key("hq", CAM, T0 + timedelta(seconds=start_s), 10_000, "ts")
        store.put(key, body, sha)
    counts = rebuild_index(sessions, store)
    assert (counts["added"], counts["overlapping"]) == (2, 1)
    assert len(keys(sessions)) == 2
