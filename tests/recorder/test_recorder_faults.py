"""Recorder resilience: S3 outage, dropped and stalled cameras, SIGKILL and restart."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import av
import pytest
import yaml
from sqlalchemy import select

from camerahub.composition import open_store
from camerahub.db import models as m
from camerahub.recorder import Recorder, RecorderOptions
from camerahub.recorder.streams import OnvifStreamResolver
from camerahub.storage import RetryPolicy
from camerahub.video.segmenter import Backoff
from tests.support.media import ffmpeg_errors
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
        with sessions() as s:
            last = max(x.end for x in s.scalars(select(m.Segment).where(
                m.Segment.camera_id == "cam-b")))
        assert stalled.start == last  # the gap starts exactly where footage stops
        faults.clear_faults(faults.cameras[1].address)
        wait_for(lambda: all(g.end is not None for g in _rows(sessions, m.Gap,
                                                                camera_id="cam-b")))
    finally:
        rec.stop()


def _decodes(data: bytes) -> bool:
    with av.open(io.BytesIO(data), format="mpegts") as container:
        return sum(1 for _ in container.decode(video=0)) > 0


def _partial_segment(spool: Path, min_bytes: int):
    """A segment in progress with at least min_bytes flushed to the spool (or None)."""
    return [p for p in (spool / "incoming").glob("*.ts") if p.stat().st_size >= min_bytes]


# Killed after the first segment with one 64 KiB block of the next on disk, and after the
# third with two: the cut lands at a different place in a different frame each time.
@pytest.mark.parametrize(("segments", "blocks"), [(1, 1), (3, 2)])
def test_sigkill_loses_at_most_the_segment_in_progress(faults, tmp_path, sqlite_url, segments,
                                                       blocks):
    data = deployment(faults, {"backend": "file", "file": {"path": str(tmp_path / "store")}},
                      tmp_path)
    path = tmp_path / "camerahub.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    env = {**os.environ, "CAMERAHUB_DATABASE_URL": sqlite_url,
           "CAMERAHUB_CAMERA_PASSWORD": "admin", "CAMERAHUB_CONFIG": str(path)}
    cli = [sys.executable, "-m", "camerahub.cli"]
    subprocess.run([*cli, "deploy", "apply", "-f", str(path)], env=env, check=True,
                   capture_output=True)
    from camerahub.db.engine import open_database
    _, sessions = open_database(sqlite_url)
    spool = tmp_path / "data" / "spool"
    first = subprocess.Popen([*cli, "record"], env=env, stdout=subprocess.DEVNULL)
    try:
        wait_for(lambda: len(_rows(sessions, m.Segment, camera_id="cam-a")) >= segments)
        wait_for(lambda: _partial_segment(spool, blocks * 64 * 1024))
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(30)
    before = len(_rows(sessions, m.Segment))
    second = subprocess.Popen([*cli, "record"], env=env, stdout=subprocess.DEVNULL)
    try:
        wait_for(lambda: len(_rows(sessions, m.Segment)) >= before + 6)
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(60) == 0
    store_root = tmp_path / "store"
    from camerahub.storage import FileStore
    store = FileStore(store_root)
    segs = _rows(sessions, m.Segment)
    assert sorted(store.iter_keys("")) == sorted(s.key for s in segs)
    check = tmp_path / "check.ts"
    for seg in segs:
        with store.open(seg.key) as fh:
            body = fh.read()
        # every stored object is whole TS packets that decode to the last frame
        assert len(body) % 188 == 0, seg.key
        check.write_bytes(body)
        assert ffmpeg_errors(check) == "", seg.key
        assert _decodes(body), seg.key
    for cam in ("cam-a", "cam-b"):
        mine = sorted((s for s in segs if s.camera_id == cam), key=lambda s: s.start)
        holes = _contiguous(mine)
        assert len(holes) <= 1  # only around the kill
        gaps = [g for g in _rows(sessions, m.Gap, camera_id=cam) if g.cause == "recorder_down"]
        assert len(gaps) == 1 and gaps[0].end is not None
        if holes:
            assert gaps[0].end - gaps[0].start < timedelta(seconds=60)
