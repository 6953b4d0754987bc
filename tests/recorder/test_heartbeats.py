"""Recorder heartbeat rows: one per process, and those of long-dead recorders are dropped."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from sqlalchemy import select

from camerahub.composition import open_store
from camerahub.db import models as m
from camerahub.db.types import utcnow
from camerahub.recorder import Recorder, RecorderOptions
from tests.support.recorder import deployment


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
