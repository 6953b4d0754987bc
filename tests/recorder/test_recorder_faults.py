"""Recorder resilience: dropped and stalled cameras (the S3 outage and SIGKILL tests are in
tests/reliability)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from camerahub.composition import open_store
from camerahub.db import models as m
from camerahub.recorder import Recorder, RecorderOptions
from camerahub.recorder.streams import OnvifStreamResolver
from camerahub.storage import RetryPolicy
from camerahub.video.segmenter import Backoff
from tests.support.recorder import deployment
from tests.support.wait import wait_for

FAST = RecorderOptions(segment_seconds=4, read_timeout_s=4, upload_workers=2,
                       backoff=Backoff(initial_s=0.5, max_s=2), retry=RetryPolicy(max_s=2))


def _rows(sessions, model, **where):
    with sessions() as s:
        stmt = select(model).filter_by(**where)
        return list(s.scalars(stmt))


def _contiguous(segs):
    """Consecutive segments of one camera that do not abut (more than 2 ms apart)."""
    segs = sorted(segs, key=lambda x: x.start)
    return [(a.key, b.key) for a, b in zip(segs, segs[1:], strict=False)
            if b.start - a.end > timedelta(milliseconds=2)]


@pytest.fixture
def faults(cams):
    yield cams
    for cam in cams.cameras:
        cams.clear_faults(cam.address)


def test_dropped_session_reconnects_and_records_the_gap(faults, make_env, tmp_path):
    storage = {"backend": "file", "file": {"path": str(tmp_path / "store")}}
    cfg, runtime, sessions = make_env(deployment(faults, storage, tmp_path))
    rec = Recorder(cfg, runtime, sessions, open_store(cfg, runtime),
                   OnvifStreamResolver(cfg), options=FAST)
    rec.start()
    try:
        wait_for(lambda: _rows(sessions, m.Segment, camera_id="cam-a"))
        faults.set_faults(faults.cameras[0].address, drop_after=3.0)

        def closed_drop_gap():
            """cam-a has a closed camera_dropped gap"""
            return [g for g in _rows(sessions, m.Gap, camera_id="cam-a")
                    if g.cause == "camera_dropped" and g.end is not None]
        gap = wait_for(closed_drop_gap, timeout=120)[0]
        faults.clear_faults(faults.cameras[0].address)
        wait_for(lambda: any(s.start >= gap.end for s in
                             _rows(sessions, m.Segment, camera_id="cam-a")))
    finally:
        rec.stop()
    assert gap.end > gap.start
    # cam-b kept recording without a gap of its own
    assert not [g for g in _rows(sessions, m.Gap, camera_id="cam-b") if g.cause != "recorder_down"]


def test_stalled_stream_is_detected_within_the_timeout(faults, make_env, tmp_path):
    storage = {"backend": "file", "file": {"path": str(tmp_path / "store")}}
    cfg, runtime, sessions = make_env(deployment(faults, storage, tmp_path))
    rec = Recorder(cfg, runtime, sessions, open_store(cfg, runtime),
                   OnvifStreamResolver(cfg), options=FAST)
    rec.start()
    try:
        wait_for(lambda: _rows(sessions, m.Segment, camera_id="cam-b"))
        faults.set_faults(faults.cameras[1].address, stall=True)
        stalled = wait_for(lambda: [g for g in _rows(sessions, m.Gap, camera_id="cam-b")
                                    if g.cause == "stream_stalled"], timeout=120)[0]

        def footage_end():
            with sessions() as s:
                return max(x.end for x in s.scalars(select(m.Segment).where(
                    m.Segment.camera_id == "cam-b")))

        # The gap is written when the stall is found; the last segment before it is
        # indexed once uploaded, which a busy machine may not have done yet.
        wait_for(lambda: footage_end() >= stalled.start, timeout=60)
        assert stalled.start == footage_end()  # the gap starts exactly where footage stops
        faults.clear_faults(faults.cameras[1].address)
        wait_for(lambda: all(g.end is not None for g in _rows(sessions, m.Gap,
                                                                camera_id="cam-b")))
    finally:
        rec.stop()
