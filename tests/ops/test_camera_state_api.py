"""The camera list answers each visible camera's state: online, recording (since, why not),
last segment age, bitrate, clock skew, the last discovery finding; names, never bare ids."""

from __future__ import annotations

from datetime import timedelta

import pytest

from camerahub.db import models as m
from camerahub.db import segments as index
from camerahub.db.types import utcnow
from camerahub.times import wire_time
from tests.support.api import build_api

CAM = "hq-1f-koseki-01"
OTHER = "hq-1f-koseki-02"


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    built = build_api(f"sqlite:///{tmp_path_factory.mktemp('ops') / 'db.sqlite'}")
    now = utcnow()
    with built.sessions.begin() as s:
        s.add(m.RecorderHeartbeat(id="rec-a", at=now, cameras=100,
                                  details={"spool_bytes": 0}))
        for i in range(3):  # three 10 s segments of 250 kB: 200 kbit/s
            start = now - timedelta(seconds=40 - 10 * i)
            index.add_segment(s, camera_id=CAM, site_id="hq", start=start,
                              end=start + timedelta(seconds=10), nbytes=250_000,
                              sha256="0" * 64, key=f"hq/{CAM}/{i}.ts")
        s.merge(m.CameraState(camera_id=CAM, status="online", recording="recording",
                            clock_offset_s=0.4, findings=[],
                            details={"recording_since": wire_time(now - timedelta(hours=1))}))
        s.merge(m.CameraState(camera_id=OTHER, status="offline", recording="camera_offline",
                            clock_offset_s=None,
                            findings=[{"kind": "unreachable", "severity": "medium",
                                       "message": "no answer"},
                                      {"kind": "replaced", "severity": "high",
                                       "message": "serial changed"}],
                            details={"recording_since": wire_time(now - timedelta(minutes=5)),
                                     "last_error": {"cause": "camera_offline",
                                                    "detail": "connection refused"}}))
    yield built
    built.client.close()


def _cams(api, user):
    resp = api.client.get("/api/v1/cameras", headers=api.auth(user))
    assert resp.status_code == 200, resp.text
    return {c["id"]: c for c in resp.json()}


def test_recording_camera_reports_its_state_and_names(api):
    cam = _cams(api, "kiki-sato")[CAM]
    assert cam["site_name"] == "中野区役所 本庁舎" and cam["room_name"] and cam["floor"] == 1
    assert cam["division_name"] and cam["department_name"]
    health = cam["health"]
    assert health["online"] == "online" and health["recording"] is True
    assert health["why_not"] is None and health["since"]
    assert 0 <= health["last_segment_age_s"] < 60
    assert health["bitrate_bps"] == 200_000
    assert health["clock_skew_s"] == 0.4 and health["recent_bytes"] == 750_000


def test_offline_camera_says_since_when_and_why(api):
    health = _cams(api, "kiki-sato")[OTHER]["health"]
    assert health["online"] == "offline" and health["recording"] is False
    assert health["why_not"] == "camera_offline" and health["last_error"] == "connection refused"
    assert health["finding"]["kind"] == "replaced"  # the most important finding first
    assert health["last_segment_age_s"] is None


def test_a_manager_sees_state_only_of_own_cameras(api):
    mine = _cams(api, "tokatsu-koseki")
    assert CAM in mine and all(c["health"] is not None for c in mine.values())
    assert all(c["division"] == "koseki" for c in mine.values())
    assert CAM not in _cams(api, "tokatsu-zeimu")


def test_health_reads_the_same_on_sqlite_and_postgresql(db_url, tmp_path):
    """The correlated per-camera queries, the overview and the metrics on both databases."""
    built = build_api(db_url, tmp_path / "data")
    try:
        now = utcnow()
        with built.sessions.begin() as s:
            s.add(m.RecorderHeartbeat(id="rec-pg", at=now, cameras=1, details={}))
            start = now - timedelta(seconds=30)
            index.add_segment(s, camera_id=CAM, site_id="hq", start=start,
                              end=start + timedelta(seconds=10), nbytes=125_000,
                              sha256="2" * 64, key=f"hq/{CAM}/pg.ts")
            s.merge(m.CameraState(camera_id=CAM, status="online", recording="recording",
                                  findings=[], details={"recording_since": wire_time(start)}))
        health = _cams(built, "kiki-sato")[CAM]["health"]
        assert health["recording"] is True and health["bitrate_bps"] == 100_000
        ops = built.client.get("/api/v1/ops/overview", headers=built.auth("ops-takahashi"))
        assert ops.status_code == 200 and ops.json()["forecast"]["bytes_per_day"] == 3_000_000
        metrics = built.client.get("/metrics",
                                   headers={"Authorization": f"Bearer {built.key('health')}"})
        assert f'camerahub_camera_recording{{camera="{CAM}",site="hq"}} 1' in metrics.text
    finally:
        built.client.close()
        built.app.state.camerahub.engine.dispose()
