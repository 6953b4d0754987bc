"""Alert intake to incident: holds on exactly the room's segments, grants, notifications."""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import paho.mqtt.client as mqtt
import pytest
from sqlalchemy import select

from camerahub import audit
from camerahub.authz.accounts import Principal
from camerahub.authz.authorizer import Authorizer
from camerahub.authz.errors import PermissionDenied
from camerahub.authz.store import load_inventory
from camerahub.config import load_config
from camerahub.config.services import Incidents, Mqtt
from camerahub.db import models as m
from camerahub.db import segments as index
from camerahub.db.engine import inventory_write, open_database
from camerahub.deploy import apply_plan, plan_changes
from camerahub.incidents import (
    AlertIn,
    IncidentError,
    IncidentService,
    ManualIncidentIn,
    Notifier,
    TransitionIn,
)
from tests.support.paths import EXAMPLES

T0 = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)  # 10:00 in Tokyo


@pytest.fixture
def deployed(db_url):
    cfg = load_config(EXAMPLES / "nakano.yaml")
    _, sessions = open_database(db_url)
    with inventory_write(sessions) as s:
        apply_plan(s, plan_changes(s, cfg), "x", "test")
    return cfg, sessions


def _index_hour(sessions, cameras):
    """Index rows for an hour of 10 s segments of each camera, starting at T0."""
    with sessions.begin() as s:
        for cam in cameras:
            for i in range(360):
                start = T0 + timedelta(seconds=10 * i)
                index.add_segment(s, camera_id=cam, site_id="hq", start=start,
                                  end=start + timedelta(seconds=10), nbytes=1000,
                                  sha256="0" * 64, key=f"hq/{cam}/{i:04d}.ts")


def _alert(alert_id="A-1", terminal="T-HQ-1F-KOSEKI-01", employee="E1001", minutes=(20, 25)):
    return AlertIn(alert_id=alert_id, rule="mass-lookup", employee_id=employee,
                   terminal_id=terminal,
                   window={"start": T0 + timedelta(minutes=minutes[0]),
                           "end": T0 + timedelta(minutes=minutes[1])},
                   severity="high", text="短時間に大量の住民記録を照会")


def test_alert_holds_exactly_the_rooms_segments_and_grants_its_managers(deployed):
    cfg, sessions = deployed
    _index_hour(sessions, ["hq-1f-koseki-01", "hq-1f-koseki-02", "hq-1f-jumin-01"])
    svc = IncidentService(cfg, sessions)
    result = svc.ingest_alert("log-analyzer", _alert())
    assert result.incident_id and not result.duplicate
    assert result.recipients == ["bucho-kumin", "tokatsu-koseki"]
    with sessions() as s:
        held = s.scalars(select(m.Segment).where(m.Segment.held.is_(True))).all()
        # window 20-25 min plus 15 min margin each side: 5..40 min = 35 min = 210 segments
        by_cam = {c: [x for x in held if x.camera_id == c] for c in {x.camera_id for x in held}}
        assert sorted(by_cam) == [f"hq-1f-koseki-0{i}" for i in range(1, 5)][:2]
        for segs in by_cam.values():
            assert len(segs) == 210
            assert min(x.start for x in segs) == T0 + timedelta(minutes=5)
            assert max(x.end for x in segs) == T0 + timedelta(minutes=40)
        grants = s.scalars(select(m.Grant)).all()
        assert {(g.user_id, g.camera_id) for g in grants} == {
            (u, f"hq-1f-koseki-0{i}") for u in ("bucho-kumin", "tokatsu-koseki")
            for i in range(1, 5)}
        assert all(g.footage_start == T0 + timedelta(minutes=5) for g in grants)
        assert audit.verify(s).ok


def test_duplicate_alert_is_idempotent(deployed):
    cfg, sessions = deployed
    svc = IncidentService(cfg, sessions)
    first = svc.ingest_alert("log-analyzer", _alert())
    again = svc.ingest_alert("log-analyzer", _alert())
    assert again.duplicate and again.incident_id == first.incident_id
    with sessions() as s:
        assert len(s.scalars(select(m.Incident)).all()) == 1
        assert len(s.scalars(select(m.Alert)).all()) == 1
        assert len(s.scalars(select(m.Hold)).all()) == 4


def test_unknown_terminal_is_accepted_and_flagged_for_ops(deployed):
    cfg, sessions = deployed
    result = IncidentService(cfg, sessions).ingest_alert(
        "log-analyzer", _alert(terminal="T-NOWHERE-99"))
    assert result.incident_id is None and result.flags == ["unknown_terminal"]
    with sessions() as s:
        (event,) = s.scalars(select(m.Event).where(m.Event.kind == "alert.unknown_terminal"))
        assert "T-NOWHERE-99" in event.message
        assert not s.scalars(select(m.Hold)).all()


def test_same_employee_and_room_joins_the_open_incident(deployed):
    cfg, sessions = deployed
    svc = IncidentService(cfg, sessions)
    a = svc.ingest_alert("log-analyzer", _alert("A-1"))
    b = svc.ingest_alert("log-analyzer", _alert("A-2", terminal="T-HQ-1F-KOSEKI-02",
                                                 minutes=(40, 50)))
    c = svc.ingest_alert("log-analyzer", _alert("A-3", employee="E2002"))
    assert b.joined and b.incident_id == a.incident_id
    assert c.incident_id != a.incident_id
    with sessions() as s:
        inc = s.get(m.Incident, a.incident_id)
        assert (inc.window_start, inc.window_end) == (T0 + timedelta(minutes=20),
                                                      T0 + timedelta(minutes=50))


def test_states_move_forward_only_and_closing_needs_an_outcome(deployed):
    cfg, sessions = deployed
    svc = IncidentService(cfg, sessions)
    inc = svc.ingest_alert("log-analyzer", _alert()).incident_id
    with pytest.raises(IncidentError, match="needs an outcome"):
        svc.transition(inc, "tokatsu-koseki", TransitionIn(state="closed"))
    svc.transition(inc, "tokatsu-koseki", TransitionIn(state="reviewing"))
    with pytest.raises(IncidentError, match="cannot go from reviewing to reviewing"):
        svc.transition(inc, "tokatsu-koseki", TransitionIn(state="reviewing"))
    svc.transition(inc, "tokatsu-koseki", TransitionIn(state="closed", outcome="問題なし"))
    with sessions() as s:
        assert all(g.revoked_at is not None for g in s.scalars(select(m.Grant)))
        assert s.get(m.Incident, inc).state == "closed"


def test_release_frees_segments_no_other_hold_covers(deployed):
    cfg, sessions = deployed
    _index_hour(sessions, ["hq-1f-koseki-01"])
    svc = IncidentService(cfg, sessions)
    a = svc.ingest_alert("log-analyzer", _alert("A-1", minutes=(20, 25)))
    svc.ingest_alert("log-analyzer", _alert("A-2", employee="E2", minutes=(30, 35)))
    svc.release_holds(a.incident_id, "kiki-sato")
    with sessions() as s:
        held = s.scalars(select(m.Segment).where(m.Segment.held.is_(True))).all()
        # the second incident still holds 15..50 min
        assert min(x.start for x in held) == T0 + timedelta(minutes=15)
        assert max(x.end for x in held) == T0 + timedelta(minutes=50)


def _people(sessions):
    """Each user as a principal, and the authorizer of the deployed inventory."""
    with sessions() as s:
        authz = Authorizer(load_inventory(s))
        users = {u.id: Principal("user", u.id, u.role, u.scope)
                 for u in s.scalars(select(m.User))}
    return users, authz


def _manual(room="hq-1f-koseki", grant_to=()):
    return ManualIncidentIn(room_id=room, reason="税務分野の職員が戸籍執務室の端末を使用した件",
                            window={"start": T0, "end": T0 + timedelta(minutes=5)},
                            grant_to=list(grant_to))


def _grantees(sessions, incident_id) -> set[str]:
    with sessions() as s:
        return {g.user_id for g in s.scalars(select(m.Grant).where(
            m.Grant.incident_id == incident_id))}


def test_crisis_management_grants_another_divisions_manager(deployed):
    cfg, sessions = deployed
    _index_hour(sessions, ["hq-1f-koseki-01"])
    svc = IncidentService(cfg, sessions)
    users, authz = _people(sessions)
    inc = svc.open_manual(users["kiki-sato"], authz, _manual(grant_to=["tokatsu-zeimu"]))
    assert inc.state == "open" and inc.opened_by == "user:kiki-sato"
    assert _grantees(sessions, inc.id) == {"kiki-sato", "tokatsu-zeimu", "tokatsu-koseki",
                                           "bucho-kumin"}
    with pytest.raises(IncidentError, match="unknown room"):
        svc.open_manual(users["kiki-sato"], authz, _manual(room="nope"))


@pytest.mark.parametrize("grant_to", [["tokatsu-zeimu"], ["kiki-sato"], ["bucho-kodomo"],
                                      ["ghost"], ["bucho-kumin", "tokatsu-zeimu"]])
def test_a_managers_incident_grants_only_the_rooms_own_managers(deployed, grant_to):
    cfg, sessions = deployed
    svc = IncidentService(cfg, sessions)
    users, authz = _people(sessions)
    with pytest.raises(PermissionDenied, match="room's own"):
        svc.open_manual(users["tokatsu-koseki"], authz, _manual(grant_to=grant_to))
    with sessions() as s:  # refused before anything was written
        assert s.scalar(select(m.Incident.id)) is None and s.scalar(select(m.Hold.id)) is None


def test_a_managers_incident_may_name_the_rooms_own_head(deployed):
    cfg, sessions = deployed
    _index_hour(sessions, ["hq-1f-koseki-01"])
    svc = IncidentService(cfg, sessions)
    users, authz = _people(sessions)
    inc = svc.open_manual(users["tokatsu-koseki"], authz, _manual(grant_to=["bucho-kumin"]))
    assert inc.state == "open"  # standing mode: no approval step
    assert _grantees(sessions, inc.id) == {"tokatsu-koseki", "bucho-kumin"}


def test_in_incident_mode_a_managers_incident_waits_for_approval(deployed):
    cfg, sessions = deployed
    _index_hour(sessions, ["hq-1f-koseki-01"])
    svc = IncidentService(cfg, sessions)
    users, authz = _people(sessions)
    authz = Authorizer(replace(authz.inventory, manager_playback="incident"))
    inc = svc.open_manual(users["tokatsu-koseki"], authz, _manual())
    assert inc.state == "pending_approval"
    assert _grantees(sessions, inc.id) == set()  # no access without a second person
    with sessions() as s:
        assert s.scalar(select(m.Hold.id).where(m.Hold.incident_id == inc.id)) is not None
    for who, error in (("tokatsu-koseki", PermissionDenied), ("bucho-kumin", PermissionDenied)):
        with pytest.raises(error):
            svc.approve(inc.id, users[who], authz)
    approved = svc.approve(inc.id, users["kiki-sato"], authz)
    assert approved.state == "open"
    assert _grantees(sessions, inc.id) == {"tokatsu-koseki", "bucho-kumin"}
    with sessions() as s:
        entry = s.scalars(select(m.AuditEntry).where(
            m.AuditEntry.action == "incident.approve")).one()
        assert entry.actor == "user:kiki-sato" and entry.incident_id == inc.id
        assert entry.detail["opened_by"] == "user:tokatsu-koseki"
    with pytest.raises(IncidentError, match="not pending_approval"):
        svc.approve(inc.id, users["kiki-sato"], authz)


def test_crisis_management_never_approves_its_own_incident(deployed):
    cfg, sessions = deployed
    svc = IncidentService(cfg, sessions)
    users, authz = _people(sessions)
    with sessions.begin() as s:
        inc = m.Incident(kind="manual", state="pending_approval", room_id="hq-1f-koseki",
                         window_start=T0, window_end=T0 + timedelta(minutes=5),
                         opened_by="user:kiki-sato")
        s.add(inc)
        s.flush()
        inc_id = inc.id
    with pytest.raises(PermissionDenied, match="other than its opener"):
        svc.approve(inc_id, users["kiki-sato"], authz)
    assert svc.approve(inc_id, users["kiki-suzuki"], authz).state == "open"


class _Hook(BaseHTTPRequestHandler):
    bodies: list = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        self.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    _Hook.bodies = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook", _Hook.bodies
    server.shutdown()


def _subscribe(topic_prefix):
    got, ready = [], threading.Event()
    done = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.on_connect = lambda c, *_: c.subscribe(f"{topic_prefix}/#", qos=1)
    client.on_subscribe = lambda *_: ready.set()

    def on_message(_c, _u, msg):
        got.append((msg.topic, json.loads(msg.payload)))
        if len(got) >= 3:
            done.set()
    client.on_message = on_message
    try:
        client.connect("127.0.0.1", 1883)
    except OSError as exc:
        pytest.skip(f"no MQTT broker at 127.0.0.1:1883: {exc}")
    client.loop_start()
    assert ready.wait(30)
    return client, got, done


def test_notifications_reach_mqtt_and_webhook(deployed, webhook):
    cfg, sessions = deployed
    prefix = f"camerahub-test-{uuid.uuid4().hex[:8]}"
    url, bodies = webhook
    client, got, done = _subscribe(prefix)
    settings = Incidents(mqtt=Mqtt(topic_prefix=prefix), webhooks=[url])
    svc = IncidentService(cfg, sessions, notifier=Notifier(settings))
    inc = svc.ingest_alert("log-analyzer", _alert()).incident_id
    assert done.wait(30)
    client.loop_stop()
    topics = sorted(t for t, _ in got)
    assert topics == sorted([f"{prefix}/incidents/{inc}", f"{prefix}/users/bucho-kumin/incidents",
                             f"{prefix}/users/tokatsu-koseki/incidents"])
    assert got[0][1]["event"] == "incident.opened" and got[0][1]["room"] == "hq-1f-koseki"
    assert bodies and bodies[0]["incident_id"] == inc


def test_failed_notification_is_an_event_not_a_failure(deployed):
    cfg, sessions = deployed
    settings = Incidents(webhooks=["http://127.0.0.1:9/nothing-listens"])
    svc = IncidentService(cfg, sessions, notifier=Notifier(settings, timeout_s=2))
    assert svc.ingest_alert("log-analyzer", _alert()).incident_id
    with sessions() as s:
        assert s.scalars(select(m.Event).where(m.Event.kind == "notify.failed")).all()
