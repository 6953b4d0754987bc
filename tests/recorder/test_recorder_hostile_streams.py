"""Hostile and broken streams: garbage after PLAY is a gap, never footage.

One camera of two sends, after PLAY, RTP around random payloads (timestamps advancing or
jumping) or random bytes instead of RTP. Nothing it sends may be stored: no segment claims
more time than passed, no two index rows of a camera overlap, every stored object is whole
TS packets that ffmpeg decodes clean. The camera gets a `stream_invalid` gap and records
again once healed; the healthy camera beside it never stops. Cameras on 127.0.173.x and
127.0.174.x.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from camerahub.cameras import CameraAccess, insert_login
from camerahub.composition import open_store
from camerahub.db import models as m
from camerahub.db.types import utcnow
from camerahub.recorder import Recorder, RecorderOptions
from camerahub.storage import RetryPolicy
from camerahub.video.segmenter import Backoff
from simulator.testing import running_simulator
from tests.support.media import ffmpeg_errors
from tests.support.recorder import deployment
from tests.support.wait import wait_for

SUBNET = 173
SEGMENT_S = 4
FAST = RecorderOptions(segment_seconds=SEGMENT_S, read_timeout_s=4, upload_workers=2,
                       backoff=Backoff(initial_s=0.5, max_s=2), retry=RetryPolicy(max_s=2))


@pytest.fixture(scope="module")
def sim():
    """Two cameras (one HQ, one facility) of this file's own."""
    with running_simulator(cameras=2, hq=1, subnet=SUBNET) as simulator:
        yield simulator


def _resolver(sim, cfg):
    """The simulator's main stream with the camera's login, without the ONVIF round trip."""
    access = CameraAccess(cfg)
    return lambda cam: insert_login(f"rtsp://{cam.address}:{sim.options.rtsp_port}/main",
                                    access.require_login(cam.id))


def _rows(sessions, model, **where):
    with sessions() as s:
        return list(s.scalars(select(model).filter_by(**where).order_by(model.start)))


def _overlaps(segments) -> list[tuple[str, str]]:
    return [(a.key, b.key) for a, b in zip(segments, segments[1:]) if b.start < a.end]


@pytest.mark.parametrize("fault", [{"garbage_rtp": "advance"}, {"garbage_rtp": "jump"},
                                   {"random_bytes": True}], ids=["advance", "jump", "random"])
def test_a_camera_sending_garbage_gets_a_gap_and_recovers(sim, make_env, tmp_path, fault):
    storage = {"backend": "file", "file": {"path": str(tmp_path / "store")}}
    cfg, runtime, sessions = make_env(deployment(sim, storage, tmp_path))
    store = open_store(cfg, runtime)
    bad = sim.cameras[0].address
    rec = Recorder(cfg, runtime, sessions, store, _resolver(sim, cfg), options=FAST)
    rec.start()
    try:
        wait_for(lambda: all(len(_rows(sessions, m.Segment, camera_id=c)) >= 2
                             for c in ("cam-a", "cam-b")))
        sim.set_faults(bad, **fault)

        def invalid_gap():
            """cam-a has a stream_invalid gap"""
            return [g for g in _rows(sessions, m.Gap, camera_id="cam-a")
                    if g.cause == "stream_invalid"]
        gap = wait_for(invalid_gap)[0]
        # keep the camera broken through a few more sessions, while cam-b records on
        seen = len(_rows(sessions, m.Segment, camera_id="cam-b"))
        wait_for(lambda: len(_rows(sessions, m.Segment, camera_id="cam-b")) >= seen + 4)
        sim.clear_faults(bad)
        healed = utcnow()
        wait_for(lambda: [s for s in _rows(sessions, m.Segment, camera_id="cam-a")
                          if s.start >= healed], timeout=180)
    finally:
        sim.clear_faults(bad)
        rec.stop()

    closed = [g for g in _rows(sessions, m.Gap, camera_id="cam-a") if g.id == gap.id][0]
    assert closed.end is not None and closed.end > closed.start
    for cam in ("cam-a", "cam-b"):
        segments = _rows(sessions, m.Segment, camera_id=cam)
        assert _overlaps(segments) == []
        for seg in segments:
            # no segment claims time that had not yet passed when it was indexed, nor
            # more than a segment and a GOP
            assert seg.end <= seg.stored_at + timedelta(seconds=1), seg.key
            assert seg.duration_ms <= (SEGMENT_S + 2) * 1000, seg.key
    cam_b = _rows(sessions, m.Segment, camera_id="cam-b")
    assert [(a.key, b.key) for a, b in zip(cam_b, cam_b[1:])
            if b.start - a.end > timedelta(milliseconds=2)] == []  # never stopped
    assert [g.cause for g in _rows(sessions, m.Gap, camera_id="cam-b")
            if g.cause != "recorder_down"] == []
    body = tmp_path / "object.ts"
    stored = sorted(store.iter_keys(""))
    assert stored == sorted(s.key for s in _rows(sessions, m.Segment))
    for key in stored:
        with store.open(key) as fh:
            body.write_bytes(fh.read())
        assert body.stat().st_size % 188 == 0, key
        assert ffmpeg_errors(body) == "", key
