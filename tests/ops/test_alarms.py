"""Alarms people receive: raised once and cleared once, on the real Mosquitto (retained state
topics and event topics) and on a signed webhook of the test's own, retried with backoff."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from camerahub.config.services import Mqtt, Webhook
from camerahub.db import models as m
from camerahub.db.types import utcnow
from camerahub.jobs.alarms import Alarms, Publisher
from camerahub.retry import Backoff
from camerahub.times import wire_time
from tests.support.api import build_api
from tests.support.mqtt import clear_retained, subscribed, unique_prefix

CAM = "hq-1f-koseki-01"
SECRET = "webhook-secret-for-tests-0123456789"  # noqa: S105 - the test receiver's own


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    built = build_api(f"sqlite:///{tmp_path_factory.mktemp('alarms') / 'db.sqlite'}")
    yield built
    built.client.close()


class _Receiver(BaseHTTPRequestHandler):
    got: list = []
    fail_first = 0
    seen = threading.Condition()

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with self.seen:
            if type(self).fail_first > 0:
                type(self).fail_first -= 1
                self.send_response(503)
                self.end_headers()
                return
            self.got.append((dict(self.headers), body))
            self.seen.notify_all()
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    _Receiver.got, _Receiver.fail_first = [], 1  # the first delivery fails: retried
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()


def _wait_posts(n: int, timeout: float = 60.0) -> list:
    with _Receiver.seen:
        assert _Receiver.seen.wait_for(lambda: len(_Receiver.got) >= n, timeout)
        return list(_Receiver.got)


def _set(api, recording: str, since_s: float, **extra):
    with api.sessions.begin() as s:
        s.merge(m.CameraState(
            camera_id=CAM, status="online" if recording == "recording" else "offline",
            recording=recording, findings=extra.pop("findings", []),
            clock_offset_s=extra.pop("skew", None),
            details={"recording_since": wire_time(utcnow() - timedelta(seconds=since_s))}))
        s.merge(m.RecorderHeartbeat(id="rec-1", at=utcnow(), started_at=utcnow(), cameras=1,
                                    details={"spool_bytes": 0, "upload_lag_s": 0.0}))


def _alarms(api, prefix, url, monkeypatch):
    monkeypatch.setenv("CAMERAHUB_TEST_WEBHOOK_SECRET", SECRET)
    cfg = api.cfg.model_copy(update={"alarms": api.cfg.alarms.model_copy(update={
        "camera_offline_s": 30.0, "recording_stalled_s": 30.0})})
    hook = Webhook(url=url, secret_env="CAMERAHUB_TEST_WEBHOOK_SECRET")
    publisher = Publisher(Mqtt(topic_prefix=prefix), [hook],
                          backoff=Backoff(initial_s=0.2, max_s=1.0))
    return Alarms(cfg, api.sessions, api.app.state.camerahub.services.runtime.data_dir,
                  publisher=publisher)


def test_offline_camera_is_raised_then_cleared_on_mqtt_and_webhook(api, receiver,
                                                                     monkeypatch):
    prefix = unique_prefix()
    alarms = _alarms(api, prefix, receiver, monkeypatch)
    seen_topics: set[str] = set()
    try:
        with subscribed(f"{prefix}/#") as sub:
            _set(api, "camera_dropped", since_s=5)  # offline, but not yet for 30 s
            raised, _ = alarms.run_once()
            assert not [a for a in raised if a.kind == "camera_offline"]
            _set(api, "camera_dropped", since_s=45)
            raised, _ = alarms.run_once()
            assert [a.subject for a in raised if a.kind == "camera_offline"] == [CAM]
            assert [a["kind"] for a in alarms.active() if a["camera"] == CAM] == [
                "camera_offline"]
            _, event, _ = sub.wait_for(lambda t, p, r: t == f"{prefix}/events/camera_offline")
            assert event["event"] == "raised" and event["camera"] == CAM
            assert event["severity"] == "high" and event["active"] is True
            _, state, _ = sub.wait_for(
                lambda t, p, r: t == f"{prefix}/alarms/camera_offline/{CAM}")
            assert state["active"] is True
            _, cam_state, _ = sub.wait_for(lambda t, p, r: t == f"{prefix}/cameras/{CAM}/state")
            assert cam_state["online"] == "offline" and cam_state["recording"] is False

            raised, _ = alarms.run_once()  # still offline: nothing new is announced
            assert not raised

            _set(api, "recording", since_s=1)
            _, cleared = alarms.run_once()
            assert [a.kind for a in cleared if a.subject == CAM] == ["camera_offline"]
            sub.wait_for(lambda t, p, r: t == f"{prefix}/events/camera_offline"
                         and p["event"] == "cleared" and p["cleared_at"])
            seen_topics = {t for t, _, _ in sub.messages}

        # a subscriber that comes later learns the current state from the retained topic
        with subscribed(f"{prefix}/alarms/camera_offline/{CAM}") as late:
            _, state, retained = late.wait_for(lambda t, p, r: True)
            assert retained and state["active"] is False

        posts = _wait_posts(2)  # raised (after one failed delivery, retried) and cleared
        bodies = [json.loads(body) for _, body in posts]
        assert [(b["event"], b["kind"]) for b in bodies if b["camera"] == CAM] == [
            ("raised", "camera_offline"), ("cleared", "camera_offline")]
        for headers, body in posts:
            stamp = headers["X-Camerahub-Timestamp"]
            mac = hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256)
            assert headers["X-Camerahub-Signature"] == f"sha256={mac.hexdigest()}"
        assert SECRET not in json.dumps(bodies)
        with api.sessions() as s:
            kinds = [e.kind for e in s.query(m.Event).filter(m.Event.camera_id == CAM)]
        assert "alarm.raised" in kinds and "alarm.cleared" in kinds
    finally:
        alarms.stop()
        clear_retained(prefix, sorted(seen_topics))


def test_clock_skew_and_replaced_camera_are_raised(api, monkeypatch):
    alarms = _alarms(api, unique_prefix(), "http://127.0.0.1:9/unused", monkeypatch)
    alarms.publisher.mqtt = None  # this test looks at the evaluation only
    alarms.publisher.webhooks = []
    _set(api, "recording", since_s=1, skew=7.5,
         findings=[{"kind": "replaced", "severity": "high", "message": "serial changed"}])
    raised, _ = alarms.run_once()
    kinds = {a.kind for a in raised if a.subject == CAM}
    assert kinds == {"clock_skew", "camera_replaced"}
    _set(api, "recording", since_s=1, skew=0.1)
    _, cleared = alarms.run_once()
    assert {a.kind for a in cleared if a.subject == CAM} == {"clock_skew", "camera_replaced"}


def test_a_refused_broker_keeps_the_messages_for_the_next_round(api, monkeypatch):
    alarms = _alarms(api, unique_prefix(), "http://127.0.0.1:9/unused", monkeypatch)
    alarms.publisher.mqtt = Mqtt(host="127.0.0.1", port=9, topic_prefix="x")  # nothing there
    alarms.publisher.webhooks = []
    _set(api, "camera_offline", since_s=100)
    alarms.run_once()
    assert alarms.publisher.failures == 1 and alarms.publisher.sent == 0
    assert any(t.endswith(f"/alarms/camera_offline/{CAM}") for t in alarms.publisher._pending)


def test_spool_upload_lag_disk_and_audit_chain_alarms(api, monkeypatch):
    broken = {"why": "audit chain broken at entry 12: hash mismatch"}
    alarms = _alarms(api, unique_prefix(), "http://127.0.0.1:9/unused", monkeypatch)
    alarms.publisher.mqtt = None
    alarms.publisher.webhooks = []
    alarms.audit_broken = lambda: broken["why"]
    _set(api, "recording", since_s=1)
    with api.sessions.begin() as s:
        s.merge(m.RecorderHeartbeat(id="rec-1", at=utcnow(), started_at=utcnow(), cameras=1,
                                    details={"spool_bytes": 300 << 20,
                                             "spool_limit_bytes": 200 << 20,
                                             "upload_lag_s": 5000.0,
                                             "spool_disk_free_bytes": 1 << 20,
                                             "spool_disk_total_bytes": 100 << 30}))
    raised, _ = alarms.run_once()
    assert {(a.kind, a.subject) for a in raised} >= {
        ("spool_over_limit", "rec-1"), ("upload_lag", "rec-1"), ("disk_low", "spool-rec-1"),
        ("audit_chain", "audit")}
    assert alarms.active()[0]["kind"] == "audit_chain"  # the most severe first
    broken["why"] = None
    _set(api, "recording", since_s=1)  # the heartbeat is healthy again
    _, cleared = alarms.run_once()
    assert {a.kind for a in cleared} >= {"spool_over_limit", "upload_lag", "disk_low",
                                         "audit_chain"}


def test_no_live_recorder_is_one_alarm_not_one_per_camera(api, monkeypatch):
    alarms = _alarms(api, unique_prefix(), "http://127.0.0.1:9/unused", monkeypatch)
    alarms.publisher.mqtt = None
    alarms.publisher.webhooks = []
    _set(api, "recording", since_s=1)
    with api.sessions.begin() as s:
        s.query(m.RecorderHeartbeat).delete()
    alarms.run_once(utcnow())
    raised, _ = alarms.run_once(utcnow() + timedelta(seconds=31))  # past recording_stalled_s
    stalled = [a for a in raised if a.kind == "recording_stalled"]
    assert [(a.subject, a.data["cameras"]) for a in stalled] == [("recorders", 100)]
    _set(api, "recording", since_s=1)  # a recorder beats again
    _, cleared = alarms.run_once(utcnow() + timedelta(seconds=32))
    assert "recording_stalled/recorders" in {a.key for a in cleared}


@pytest.mark.parametrize("hook", [
    {"url": "https://hooks.example.internal/x"},  # no secret at all
    {"url": "https://hooks.example.internal/x", "secret": "inline"},  # a secret in the YAML
    {"url": "https://hooks.example.internal/x", "secret_env": "A", "secret_file": "/s"},
    {"url": "file:///etc/passwd", "secret_env": "A"},
])
def test_webhook_settings_refuse_inline_missing_or_double_secrets(hook):
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        Webhook(**hook)
