"""The S3 endpoint cut for 60 s while 10 cameras record: 0 segments lost, 0 duplicated.

The cut is a network outage behind a TCP proxy of the test's own (tests.support.tcpproxy):
moto keeps serving and keeps its objects, only the line to it is down. The outage lasts
until every camera has 60 s of footage waiting in the spool (an event, not a sleep), then
the line comes back and the backlog must drain. Every stored object is then read back,
hashed and decoded to its last frame (tests.support.integrity). Moved here from
tests/recorder/test_recorder_faults.py (two cameras, moto stopped) and upgraded.
"""

from __future__ import annotations

import time

from sqlalchemy import func, select

from camerahub.composition import open_store
from camerahub.db import models as m
from camerahub.recorder import Recorder
from camerahub.recorder.streams import OnvifStreamResolver
from tests.reliability.conftest import FAST
from tests.support.integrity import check_footage, coverage
from tests.support.recorder import fleet
from tests.support.s3 import MotoS3
from tests.support.tcpproxy import TcpProxy
from tests.support.wait import wait_for

OUTAGE_S = 60


def _indexed_per_camera(sessions) -> dict[str, int]:
    with sessions() as s:
        return dict(s.execute(select(m.Segment.camera_id, func.count())
                              .group_by(m.Segment.camera_id)).all())


def camera_losses_s(sim, address: str) -> float:
    """The most recording the camera's own skipped frames can cost: each skip's length
    plus the wait for the next keyframe (the simulator's GOP is 1 s; 15 frames a second)."""
    skips = sim.sent(address)["main"]["skips"]  # the profile the recorder records
    return sum(skip["frames"] / 15 + 1.1 for skip in skips)


def _gap_rows(sessions, camera_id: str) -> list[tuple]:
    """A camera's gap rows, for a failure's message."""
    with sessions() as s:
        return [(g.cause, f"{g.start:%H:%M:%S.%f}", f"{g.end:%H:%M:%S.%f}" if g.end else None,
                 (g.detail or "")[:120])
                for g in s.scalars(select(m.Gap).where(m.Gap.camera_id == camera_id))]


def test_s3_cut_for_60_s_loses_and_duplicates_nothing(fleet_sim, make_env, tmp_path):
    moto = MotoS3().start()
    bucket = moto.bucket()
    proxy = TcpProxy(moto.port).start()
    storage = {"backend": "s3", "s3": {"bucket": bucket, "endpoint_url": proxy.endpoint,
                                       "path_style": True, "region": "us-east-1"}}
    cfg, runtime, sessions = make_env(fleet(fleet_sim, storage, tmp_path))
    cameras = [c.id for c in cfg.cameras]
    addresses = {c.id: c.address for c in cfg.cameras}
    store = open_store(cfg, runtime)
    rec = Recorder(cfg, runtime, sessions, store, OnvifStreamResolver(cfg), options=FAST)
    rec.start()
    try:
        wait_for(lambda: len(_indexed_per_camera(sessions)) == len(cameras), timeout=180)
        proxy.cut()
        cut_at = time.monotonic()
        indexed_at_cut = sum(_indexed_per_camera(sessions).values())

        def spooled_outage():
            """every camera has OUTAGE_S of footage waiting in the spool"""
            items = rec.spool.ready_items()
            return all(sum(i.duration_ms for i in items if i.camera_id == c) >= OUTAGE_S * 1000
                       for c in cameras)
        wait_for(spooled_outage, timeout=OUTAGE_S + 180)
        outage_s = time.monotonic() - cut_at
        # nothing reached the store while the line was down (a few uploads were in flight)
        assert sum(_indexed_per_camera(sessions).values()) <= indexed_at_cut + 2 * len(cameras)
        proxy.restore()
        wait_for(lambda: not rec.spool.ready_items(), timeout=240)
    finally:
        rec.stop()
    try:
        report = check_footage(store, sessions, ffmpeg_every=20)
    finally:
        proxy.stop()
        moto.stop()
    assert report, report.problems[:20]
    # the line was down for the whole outage (the first spooled segment began before it)
    assert outage_s >= OUTAGE_S - FAST.segment_seconds
    assert not list(rec.spool.quarantine_dir.iterdir())
    segs = report.segments
    for cam in cameras:
        mine = [s for s in segs if s.camera_id == cam]
        first, last = min(s.start for s in mine), max(s.end for s in mine)
        cov = coverage(sessions, cam, first, last)
        # one unbroken run of footage per camera through the outage: nothing lost, but
        # what the camera itself did not send (a simulator starved by a busy machine skips
        # frames), each such loss a gap of its length and the wait for the next keyframe
        assert cov["unexplained_s"] < 0.01, (cam, cov)
        assert cov["gap_s"] <= camera_losses_s(fleet_sim, addresses[cam]), (
            cam, cov, _gap_rows(sessions, cam), fleet_sim.sent(addresses[cam])["main"]["skips"])
        assert cov["recorded_s"] >= OUTAGE_S
