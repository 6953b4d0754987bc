"""The ops console's API (ops only, by the Casbin policy), /readyz and /metrics."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from camerahub.api.metrics import METRIC_NAMES
from camerahub.db import models as m
from camerahub.db import segments as index
from camerahub.db.types import utcnow
from camerahub.times import wire_time
from tests.support.api import build_api

CAM = "hq-1f-koseki-01"
DOWN = "hq-2f-kazei-a-01"


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    built = build_api(f"sqlite:///{tmp_path_factory.mktemp('ops') / 'db.sqlite'}")
    yield built
    built.client.close()


def _beat(api, age_s: float = 0.0, **details):
    with api.sessions.begin() as s:
        s.merge(m.RecorderHeartbeat(id="rec-test", at=utcnow() - timedelta(seconds=age_s),
                                    started_at=utcnow(), cameras=100,
                                    details={"spool_bytes": 5 << 20, "spool_segments": 3,
                                             "spool_limit_bytes": 100 << 20,
                                             "upload_lag_s": 42.0, **details}))


def test_readyz_needs_a_live_recorder(api):
    with api.sessions.begin() as s:
        s.query(m.RecorderHeartbeat).delete()
    resp = api.client.get("/readyz")
    assert resp.status_code == 503
    assert resp.json() == {"status": "not ready", "checks": {
        "database": "ok", "store": "ok", "recorders": "failing"}}
    _beat(api, age_s=600)  # stale
    assert api.client.get("/readyz").status_code == 503
    _beat(api)
    resp = api.client.get("/readyz")
    assert resp.status_code == 200 and resp.json()["status"] == "ready"
    assert api.client.get("/healthz").json() == {"status": "ok"}


@pytest.mark.parametrize("user", ["kiki-sato", "audit-watanabe", "tokatsu-koseki"])
def test_only_ops_reads_the_overview(api, user):
    assert api.client.get("/api/v1/ops/overview", headers=api.auth(user)).status_code == 403
    assert api.client.get("/api/v1/ops/alarms", headers=api.auth(user)).status_code == 403


def test_anonymous_gets_401(api):
    assert api.client.get("/api/v1/ops/overview").status_code == 401


def test_overview_names_cameras_not_recording_per_site(api):
    now = utcnow()
    _beat(api, oldest_unuploaded=wire_time(now - timedelta(seconds=42)))
    with api.sessions.begin() as s:
        start = now - timedelta(seconds=20)
        index.add_segment(s, camera_id=CAM, site_id="hq", start=start,
                          end=start + timedelta(seconds=10), nbytes=1_000_000,
                          sha256="1" * 64, key=f"hq/{CAM}/x.ts")
        s.merge(m.CameraState(camera_id=CAM, status="online", recording="recording",
                              findings=[], details={"recording_since": wire_time(start)}))
        s.merge(m.CameraState(camera_id=DOWN, status="offline", recording="camera_offline",
                              findings=[{"kind": "missing", "severity": "medium",
                                         "message": "no answer at its address"}],
                              details={"recording_since": wire_time(now - timedelta(hours=2))}))
        s.add(m.Event(kind="deploy.devices", severity="warning", message="device rollout",
                      data={"summary": {"applied": 99, "failed": 1}, "applied": True,
                            "failed": [{"camera": DOWN, "status": "failed",
                                        "error": "unreachable"}]}))
    resp = api.client.get("/api/v1/ops/overview", headers=api.auth("ops-takahashi"))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["totals"]["cameras"] == 100 and body["totals"]["recording"] == 1
    hq = next(site for site in body["sites"] if site["id"] == "hq")
    assert hq["name"] == "中野区役所 本庁舎"
    down = next(c for c in hq["not_recording"] if c["id"] == DOWN)
    assert down["why_not"] == "camera_offline" and down["online"] == "offline"
    assert down["since"] and down["room_name"]
    assert CAM not in {c["id"] for c in hq["not_recording"]}
    assert body["spool"]["bytes"] == 5 << 20 and body["spool"]["upload_lag_s"] == 42.0
    assert body["spool"]["oldest_unuploaded"]
    health = body["health"]
    assert health["database"]["ok"] and health["store"]["ok"]
    assert health["disk"]["data"]["free_bytes"] > 0 and health["recorders"][0]["alive"]
    forecast = body["forecast"]
    assert forecast["bytes_per_day"] == 24_000_000 and forecast["store_days"] > 0
    assert forecast["spool_hours"] is not None
    assert body["findings"]["counts"]["missing"] == 1
    assert body["deployment"]["config_sha256"]
    assert body["rollout"]["summary"]["failed"] == 1
    assert body["alarms"] == []


def test_metrics_expose_every_documented_name(api):
    resp = api.client.get("/metrics", headers={"Authorization": f"Bearer {api.key('health')}"})
    assert resp.status_code == 200
    text = resp.text
    names = set(re.findall(r"^# TYPE (\S+) ", text, re.M))
    assert names == set(METRIC_NAMES)
    assert f'camerahub_camera_online{{camera="{CAM}",site="hq"}}' in text
    assert re.search(r'camerahub_http_requests_total\{method="GET",status="403"\} \d+', text)
    assert re.search(r'camerahub_authorization_refusals_total\{action="health"\} \d+', text)


def test_the_readme_documents_every_metric():
    from tests.support.paths import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [name for name in METRIC_NAMES if f"`{name}`" not in readme]
    assert not missing, missing
