"""The customer's flow end to end: simulator -> recorder -> moto S3 -> alert -> incident ->
the room's manager plays the held footage -> others cannot -> retention keeps only held
segments -> the evidence bundle verifies, and fails after one flipped byte."""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from datetime import timedelta
from urllib.parse import quote

import av
import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select

from camerahub import audit
from camerahub.authz import accounts
from camerahub.composition import open_store
from camerahub.config import parse_config, resolve_runtime
from camerahub.db import models as m
from camerahub.db.engine import inventory_write, open_database
from camerahub.db.types import utcnow
from camerahub.deploy import apply_plan, plan_changes
from camerahub.export import generate_key, load_private_key, verify_bundle
from camerahub.recorder import Recorder, RecorderOptions
from camerahub.recorder.streams import OnvifStreamResolver
from camerahub.retention import RetentionSweeper
from camerahub.storage import RetryPolicy
from camerahub.video.segmenter import Backoff
from tests.support.deployment import PASSWORD, make_app, set_all_passwords
from tests.support.simulators import running_simulator
from tests.support.wait import wait_for

SUBNET = 65
GOP_S = 1.0  # the simulator's keyframe interval
REASON = quote("操作ログ解析アラートの確認")


def _config(sim, moto_endpoint: str, bucket: str, data_dir) -> dict:
    a1, a2, b1 = (c.address for c in sim.cameras[:3])
    return {
        "sites": [{"id": "hq", "name": "本庁舎", "kind": "headquarters"}],
        "org": {"departments": [{"id": "kumin", "name": "区民部", "head": "bucho-kumin",
                                 "divisions": [
            {"id": "koseki", "name": "戸籍住民分野", "managers": ["tokatsu-koseki"],
             "rooms": [{"id": "room-a", "name": "戸籍執務室", "site": "hq"}]},
            {"id": "zeimu", "name": "税務分野", "managers": ["tokatsu-zeimu"],
             "rooms": [{"id": "room-b", "name": "税務執務室", "site": "hq"}]}]}]},
        "credentials": [{"id": "cam", "username": "admin",
                         "password_env": "CAMERAHUB_CAMERA_PASSWORD"}],
        "defaults": {"port": sim.options.http_port, "credential": "cam"},
        "cameras": [
            {"id": "cam-a1", "name": "A1", "site": "hq", "room": "room-a", "address": a1,
             "privacy": {"masks": [{"x": 0.5, "y": 0.5, "w": 0.5, "h": 0.5,
                                    "label": "端末の画面"}]}},
            {"id": "cam-a2", "name": "A2", "site": "hq", "room": "room-a", "address": a2},
            {"id": "cam-b1", "name": "B1", "site": "hq", "room": "room-b", "address": b1}],
        "terminals": [{"id": "T-A-01", "room": "room-a"}],
        "storage": {"backend": "s3", "s3": {"bucket": bucket, "endpoint_url": moto_endpoint,
                                            "path_style": True, "region": "us-east-1"}},
        "incidents": {"margin_minutes": 0},
        "export": {"signing_key_env": "CAMERAHUB_EXPORT_KEY"},
        "users": [
            {"id": "kiki-sato", "name": "佐藤", "role": "crisis-management"},
            {"id": "bucho-kumin", "name": "区民部長", "role": "department-head",
             "scope": "kumin"},
            {"id": "tokatsu-koseki", "name": "戸籍統括", "role": "division-manager",
             "scope": "koseki"},
            {"id": "tokatsu-zeimu", "name": "税務統括", "role": "division-manager",
             "scope": "zeimu"}],
        "alert_sources": [{"id": "log-analyzer", "name": "操作ログ解析"}],
        "data_dir": str(data_dir),
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory, moto_s3):
    """Three cameras recorded into moto S3 for a while, and the real app over the result."""
    tmp = tmp_path_factory.mktemp("e2e")
    mp = pytest.MonkeyPatch()
    mp.setenv("CAMERAHUB_CAMERA_PASSWORD", "admin")
    mp.setenv("CAMERAHUB_EXPORT_KEY", generate_key().decode())
    moto = moto_s3
    with running_simulator(cameras=3, hq=3, subnet=SUBNET) as sim:
        bucket = moto.bucket(object_lock=True)
        data = _config(sim, moto.endpoint, bucket, tmp / "data")
        cfg = parse_config(yaml.safe_dump(data, allow_unicode=True), "e2e.yaml")
        url = f"sqlite:///{tmp / 'db.sqlite'}"
        _, sessions = open_database(url)
        with inventory_write(sessions) as s:
            apply_plan(s, plan_changes(s, cfg), "x", "e2e")
        set_all_passwords(url, cfg)
        runtime = resolve_runtime(cfg, tmp / "e2e.yaml")
        store = open_store(cfg, runtime)
        options = RecorderOptions(segment_seconds=4, read_timeout_s=5, upload_workers=2,
                                  backoff=Backoff(initial_s=0.5, max_s=2),
                                  retry=RetryPolicy(max_s=2))
        rec = Recorder(cfg, runtime, sessions, store, OnvifStreamResolver(cfg), options=options)
        rec.start()
        try:
            def enough():
                """every camera has six indexed segments"""
                with sessions() as s:
                    rows = s.execute(select(m.Segment.camera_id)).scalars().all()
                return all(rows.count(c) >= 6 for c in ("cam-a1", "cam-a2", "cam-b1"))
            wait_for(enough, timeout=180)
        finally:
            rec.stop()
        app = make_app(url, cfg, data_dir=tmp / "data")
        yield {"cfg": cfg, "sessions": sessions, "store": store, "client": TestClient(app),
               "tmp": tmp, "url": url}
    mp.undo()


def _token(client, user):
    resp = client.post("/api/v1/auth/token", data={"username": user, "password": PASSWORD})
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def _segments(sessions, cam):
    with sessions() as s:
        return list(s.scalars(select(m.Segment).where(m.Segment.camera_id == cam)
                              .order_by(m.Segment.start)))


def _alert_key(world):
    with world["sessions"].begin() as s:
        _, key = accounts.create_api_key(s, "e2e-analyzer", "alerts:log-analyzer",
                                         {"log-analyzer"})
    return key


def test_alert_to_held_reviewed_exported_footage(world):
    client, sessions, store = world["client"], world["sessions"], world["store"]
    segs = _segments(sessions, "cam-a1")
    start, end = segs[1].start + timedelta(seconds=1), segs[3].start + timedelta(seconds=1)
    key = _alert_key(world)
    alert = {"alert_id": "LA-2026-0001", "rule": "大量照会", "employee_id": "E12345",
             "terminal_id": "T-A-01", "severity": "high", "text": "短時間に50件の照会",
             "window": {"start": start.isoformat(), "end": end.isoformat()}}

    # the alert opens an incident; a duplicate changes nothing
    resp = client.post("/api/v1/alerts", json=alert, headers={"X-API-Key": key})
    assert resp.status_code == 202, resp.text
    incident = resp.json()["incident_id"]
    again = client.post("/api/v1/alerts", json=alert, headers={"X-API-Key": key})
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert again.json()["incident_id"] == incident

    # holds cover exactly the segments of the room's two cameras that overlap the window
    with sessions() as s:
        held = {(x.camera_id, x.key) for x in s.scalars(select(m.Segment).where(
            m.Segment.held.is_(True)))}
    expected = {(c, x.key) for c in ("cam-a1", "cam-a2") for x in _segments(sessions, c)
                if x.start < end and x.end > start}
    assert held == expected and len(expected) >= 4

    # the room's division manager plays the window: the incident's grant covers it, so the
    # incident is the stated reason; outside the grant, standing access needs a reason
    mgr = _token(client, "tokatsu-koseki")
    q = f"start={quote(start.isoformat())}&end={quote(end.isoformat())}"
    later = (f"start={quote(segs[4].start.isoformat())}&end={quote(segs[5].end.isoformat())}")
    assert client.get(f"/api/v1/cameras/cam-a1/clip.mp4?{later}", headers=mgr
                      ).status_code == 400
    assert client.get(f"/api/v1/cameras/cam-a1/clip.mp4?{later}&reason={REASON}",
                      headers=mgr).status_code == 200
    resp = client.get(f"/api/v1/cameras/cam-a1/clip.mp4?{q}", headers=mgr)
    assert resp.status_code == 200 and resp.headers["content-type"] == "video/mp4"
    with av.open(io.BytesIO(resp.content)) as c:
        stream = c.streams.video[0]
        frames = [f for f in c.decode(stream)]
    duration = float(frames[-1].pts - frames[0].pts) * stream.time_base
    assert abs(duration - (end - start).total_seconds()) <= GOP_S + 0.2

    # a manager of another division cannot even see the camera
    other = _token(client, "tokatsu-zeimu")
    resp = client.get(f"/api/v1/cameras/cam-a1/clip.mp4?{q}&reason={REASON}", headers=other)
    assert resp.status_code == 404
    resp = client.get(f"/api/v1/cameras/cam-a1/recordings?{q}&reason={REASON}", headers=mgr)
    assert resp.status_code == 200 and resp.json()["segments"]

    # retention: everything is "expired" a year later; only held segments survive
    year_later = utcnow() + timedelta(days=365)
    report = RetentionSweeper(sessions, store, now=lambda: year_later).sweep()
    assert report.deleted > 0 and not report.failed
    left = {(x.camera_id, x.key) for c in ("cam-a1", "cam-a2", "cam-b1")
            for x in _segments(sessions, c)}
    assert left == expected
    assert sorted(store.iter_keys("")) == sorted(k for _, k in expected)

    # crisis-management exports the evidence; it verifies, and one flipped byte breaks it
    kiki = _token(client, "kiki-sato")
    resp = client.post(f"/api/v1/incidents/{incident}/export", headers=kiki)
    assert resp.status_code == 200, resp.text
    bundle = world["tmp"] / "bundle.zip"
    bundle.write_bytes(resp.content)
    trusted = load_private_key(os.environ["CAMERAHUB_EXPORT_KEY"]).public_key()
    assert verify_bundle(bundle, trusted).ok
    with zipfile.ZipFile(bundle) as zf:
        disclosure = json.loads(zf.read("manifest.json"))["disclosure"]
    assert disclosure["masked"] and disclosure["masks_applied"] == ["cam-a1"]
    assert client.post(f"/api/v1/incidents/{incident}/export", headers=mgr).status_code == 403
    # without masks: crisis-management only, with a stated reason, and on the record as such
    url = f"/api/v1/incidents/{incident}/export"
    assert client.post(url, params={"unmasked": "true"}, headers=kiki).status_code == 400
    assert client.post(url, params={"unmasked": "true", "reason": "警察の照会"},
                       headers=mgr).status_code == 403
    resp = client.post(url, params={"unmasked": "true", "reason": "裁判所の送付嘱託"},
                       headers=kiki)
    assert resp.status_code == 200, resp.text
    with zipfile.ZipFile(io.BytesIO(resp.content)) as zf:
        disclosure = json.loads(zf.read("manifest.json"))["disclosure"]
    assert disclosure == {"masked": False, "unmasked_reason": "裁判所の送付嘱託",
                          "masks_not_applied": ["cam-a1"]}
    with sessions() as s:
        unmasked = s.scalars(select(m.AuditEntry).where(
            m.AuditEntry.action == "export", m.AuditEntry.reason == "裁判所の送付嘱託")).one()
        assert unmasked.detail["unmasked"] is True and unmasked.actor == "user:kiki-sato"
        refused = s.scalars(select(m.AuditEntry).where(
            m.AuditEntry.action == "export", m.AuditEntry.decision != "allow")).all()
        assert {(e.actor, e.decision) for e in refused} >= {("user:kiki-sato", "fail")}
    with zipfile.ZipFile(bundle) as zf:
        items = {n: zf.read(n) for n in zf.namelist()}
    clip_name = next(n for n in items if n.endswith(".mp4"))
    body = bytearray(items[clip_name])
    body[len(body) // 3] ^= 0xFF
    items[clip_name] = bytes(body)
    with zipfile.ZipFile(bundle, "w") as zf:
        for name, data in items.items():
            zf.writestr(name, data)
    assert not verify_bundle(bundle, trusted).ok

    # every footage decision above is in the audit chain, which is intact
    with sessions() as s:
        actions = [(e.actor, e.action, e.decision) for e in s.scalars(
            select(m.AuditEntry).where(m.AuditEntry.camera_id == "cam-a1"))]
        assert ("user:tokatsu-koseki", "playback", "allow") in actions
        granted = s.scalars(select(m.AuditEntry).where(
            m.AuditEntry.actor == "user:tokatsu-koseki", m.AuditEntry.incident_id == incident,
            m.AuditEntry.action == "playback")).all()
        assert granted and all(e.decision == "allow" for e in granted)
        assert ("user:tokatsu-zeimu", "playback", "deny") in actions
        assert audit.verify(s).ok


def test_alert_input_errors(world):
    client = world["client"]
    with world["sessions"].begin() as s:
        _, key = accounts.create_api_key(s, "e2e-analyzer-2", "alerts:log-analyzer",
                                         {"log-analyzer"})
    with world["sessions"].begin() as s:
        _, health_key = accounts.create_api_key(s, "e2e-health", "health")
    now = utcnow()
    good = {"alert_id": "LA-X", "rule": "r", "employee_id": "E1", "terminal_id": "T-A-01",
            "window": {"start": now.isoformat(), "end": (now + timedelta(minutes=1)).isoformat()}}
    with world["sessions"]() as s:
        before = s.query(m.Incident).count()
    cases = [
        ({**good, "window": {"start": now.isoformat(), "end": now.isoformat()}}, 422),
        ({**good, "severity": "apocalyptic"}, 422),
        ({k: v for k, v in good.items() if k != "terminal_id"}, 422),
        ({**good, "extra": 1}, 422),
        ({**good, "window": {"start": "yesterday", "end": "today"}}, 422),
    ]
    for body, status in cases:
        resp = client.post("/api/v1/alerts", json=body, headers={"X-API-Key": key})
        assert resp.status_code == status, (body, resp.text)
    resp = client.post("/api/v1/alerts", content=b"{not json", headers={
        "X-API-Key": key, "Content-Type": "application/json"})
    assert resp.status_code == 422
    assert client.post("/api/v1/alerts", json=good).status_code == 401
    assert client.post("/api/v1/alerts", json=good,
                       headers={"X-API-Key": "chk_forged_key"}).status_code == 401
    assert client.post("/api/v1/alerts", json=good,
                       headers={"X-API-Key": health_key}).status_code == 403
    with world["sessions"]() as s:
        assert s.query(m.Incident).count() == before
    unknown = {**good, "alert_id": "LA-U", "terminal_id": "T-NOWHERE"}
    resp = client.post("/api/v1/alerts", json=unknown, headers={"X-API-Key": key})
    assert resp.status_code == 202 and resp.json()["flags"] == ["unknown_terminal"]
    assert resp.json()["incident_id"] is None


def test_hls_playlist_and_its_segments(world):
    client, sessions = world["client"], world["sessions"]
    segs = _segments(sessions, "cam-a1")  # held ones survive the retention test
    start, end = segs[0].start, segs[2].end
    kiki = _token(client, "kiki-sato")
    q = f"start={quote(start.isoformat())}&end={quote(end.isoformat())}"
    resp = client.get(f"/api/v1/cameras/cam-a1/playback.m3u8?{q}", headers=kiki)
    assert resp.status_code == 200, resp.text
    lines = resp.text.splitlines()
    assert lines[0] == "#EXTM3U" and lines[-1] == "#EXT-X-ENDLIST"
    urls = [ln for ln in lines if ln.startswith("segments/")]
    assert len(urls) == 3
    body = client.get(f"/api/v1/cameras/cam-a1/{urls[0]}", headers=kiki)
    assert body.status_code == 200
    assert hashlib.sha256(body.content).hexdigest() == segs[0].sha256
    # a segment URL whose range does not cover the segment is refused
    seg_id = urls[0].split("/")[1].split(".")[0]
    wrong = f"segments/{seg_id}.ts?start={quote(segs[1].start.isoformat())}" \
            f"&end={quote(segs[1].end.isoformat())}"
    assert client.get(f"/api/v1/cameras/cam-a1/{wrong}", headers=kiki).status_code == 400
    # the other division's manager cannot fetch it; a month-long playlist is refused
    zeimu_other = _token(client, "tokatsu-zeimu")
    assert client.get(f"/api/v1/cameras/cam-a1/{urls[0]}&reason=x",
                      headers=zeimu_other).status_code == 404
    month = (f"start={quote((start - timedelta(days=30)).isoformat())}"
             f"&end={quote(end.isoformat())}")
    assert client.get(f"/api/v1/cameras/cam-a1/playback.m3u8?{month}",
                      headers=kiki).status_code == 400
