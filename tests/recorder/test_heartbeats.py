"""Recorder heartbeat rows: one per process, and those of long-dead recorders are dropped."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from types import SimpleNamespace

from sqlalchemy import select

from camerahub.composition import open_store
from camerahub.db import models as m
from camerahub.db.types import utcnow
from camerahub.recorder import Recorder, RecorderOptions
from camerahub.recorder.service import OPENING_AT_ONCE
from tests.support.recorder import deployment, fleet


def test_a_week_old_dead_recorders_row_is_dropped_a_recent_one_kept(make_env, tmp_path):
    cams = SimpleNamespace(cameras=[SimpleNamespace(address="127.0.175.201"),
                                    SimpleNamespace(address="127.0.176.201")],
                           options=SimpleNamespace(http_port=9))  # never answers
    storage = {"backend": "file", "file": {"path": str(tmp_path / "store")}}
    cfg, runtime, sessions = make_env(deployment(cams, storage, tmp_path))
    now = utcnow()
    with sessions.begin() as s:
        s.add(m.RecorderHeartbeat(id="gone:1", started_at=now - timedelta(days=30),
                                  at=now - timedelta(days=8)))
        s.add(m.RecorderHeartbeat(id="killed:2", started_at=now - timedelta(days=2),
                                  at=now - timedelta(days=1)))
    rec = Recorder(cfg, runtime, sessions, open_store(cfg, runtime),
                   lambda cam: "rtsp://127.0.0.1:9/none",
                   options=RecorderOptions(segment_seconds=4, upload_workers=1))
    rec.start()
    rec.stop()
    with sessions() as s:
        rows = {r.id: r for r in s.scalars(select(m.RecorderHeartbeat))}
    assert "gone:1" not in rows
    assert "killed:2" in rows
    assert rec.heartbeat_id in rows and rows[rec.heartbeat_id].details["stopped"]


def test_at_most_opening_at_once_cameras_are_asked_for_their_stream_together(
        make_env, tmp_path):
    """Hundreds of cameras starting together would keep the readers from the interpreter
    behind hundreds of SOAP exchanges: the recorder asks a few at a time."""
    count = OPENING_AT_ONCE + 12
    cams = SimpleNamespace(cameras=[SimpleNamespace(address=f"127.0.177.{i + 1}")
                                    for i in range(count)],
                           options=SimpleNamespace(http_port=9))  # never answers
    storage = {"backend": "file", "file": {"path": str(tmp_path / "store")}}
    cfg, runtime, sessions = make_env(fleet(cams, storage, tmp_path))
    lock, inside, most, asked = threading.Lock(), [0], [0], set()
    everyone = threading.Event()  # never set while the bound holds: the wait times out

    def resolve(cam):
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
            asked.add(cam.id)
            if inside[0] == count:
                everyone.set()
        try:
            everyone.wait(3)  # hold the place, as a slow camera would
            return "rtsp://127.0.0.1:9/none"
        finally:
            with lock:
                inside[0] -= 1

    rec = Recorder(cfg, runtime, sessions, open_store(cfg, runtime), resolve,
                   options=RecorderOptions(segment_seconds=4, upload_workers=1))
    rec.start()
    try:
        deadline = time.monotonic() + 120
        while len(asked) < count and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        rec.stop()
    assert len(asked) == count
    assert most[0] == OPENING_AT_ONCE
