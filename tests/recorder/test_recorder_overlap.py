"""The recorder never uploads or indexes a segment overlapping footage already indexed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from sqlalchemy import select

from camerahub.composition import open_store
from camerahub.db import models as m
from camerahub.db import segments as index
from camerahub.recorder import Recorder, RecorderOptions
from camerahub.storage import segment_key
from tests.support.media import encode_h264, segments
from tests.support.recorder import deployment

T0 = datetime(2026, 11, 26, 3, 15, tzinfo=UTC)


def test_segments_overlapping_indexed_footage_are_quarantined_not_uploaded(make_env, tmp_path):
    cams = SimpleNamespace(cameras=[SimpleNamespace(address="127.0.173.201"),
                                    SimpleNamespace(address="127.0.174.201")],
                           options=SimpleNamespace(http_port=9))  # never contacted here
    storage = {"backend": "file", "file": {"path": str(tmp_path / "store")}}
    cfg, runtime, sessions = make_env(deployment(cams, storage, tmp_path))
    store = open_store(cfg, runtime)
    rec = Recorder(cfg, runtime, sessions, store, lambda cam: "rtsp://127.0.0.1:9/none",
                   options=RecorderOptions(segment_seconds=4, upload_workers=1))
    indexed = segment_key("hq", "cam-a", T0, 10_000, "ts")
    with sessions.begin() as s:  # footage from another recorder, say
        index.index_segment(s, camera_id="cam-a", site_id="hq", start=T0,
                            end=T0 + timedelta(seconds=10), nbytes=188, sha256="0" * 64,
                            key=indexed)
    source = encode_h264(tmp_path / "source.ts", 12)
    made = segments(source, rec.spool_dir, "cam-a", "hq", T0 + timedelta(seconds=5))
    assert [i.start_utc - T0 for i in made][:3] == [timedelta(seconds=s) for s in (5, 9, 13)]
    rec.uploader.start()
    try:
        assert rec.uploader.wait_idle(60)
    finally:
        rec.uploader.stop()
    overlapping = {i.key for i in made if i.start_utc < T0 + timedelta(seconds=10)}
    assert len(overlapping) == 2
    assert overlapping.isdisjoint(store.iter_keys(""))
    with sessions() as s:
        rows = list(s.scalars(select(m.Segment).order_by(m.Segment.start)))
        events = list(s.scalars(select(m.Event).where(m.Event.kind == "recorder.segment_refused")))
    assert [r.key for r in rows] == [indexed] + [i.key for i in made if i.key not in overlapping]
    assert all(a.end <= b.start for a, b in zip(rows, rows[1:]))
    assert len(events) == 2 and all("overlaps" in e.message for e in events)
    reasons = list(rec.spool.quarantine_dir.glob("*.reason.txt"))
    assert len(reasons) == 2 and all(indexed in p.read_text() for p in reasons)
