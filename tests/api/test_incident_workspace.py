"""The incident workspace's API: names instead of ids, the purpose as the viewing reason,
and who may move an incident (README, "Incident states")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from camerahub.db import models as m
from tests.support.api import TEST_PREFIX

T0 = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
WINDOW = {"start": T0.isoformat(), "end": (T0 + timedelta(minutes=30)).isoformat()}


def _open(api, user="tokatsu-koseki"):
    body = {"room_id": "hq-1f-koseki", "window": WINDOW, "reason": "端末の不審な操作の確認"}
    resp = api.client.post("/api/v1/incidents", json=body, headers=api.auth(user))
    assert resp.status_code == 201, resp.text
    return resp.json()


def _move(api, user, incident, state, outcome=None):
    return api.client.post(f"/api/v1/incidents/{incident}/state", headers=api.auth(user),
                           json={"state": state, "outcome": outcome})


def test_the_incident_names_room_cameras_and_managers(api):
    inc = _open(api)
    names = inc["names"]
    assert names["room"] == "1階 戸籍執務室" and names["division"] == "戸籍住民分野"
    assert names["opened_by"] == "戸籍住民分野 統括管理者"
    assert {"id": "tokatsu-koseki", "name": "戸籍住民分野 統括管理者",
            "role": "division-manager"} in names["managers"]
    assert {c["name"] for c in inc["cameras"]} >= {"1階 戸籍執務室 カメラ1"}
    assert all(g["user_name"] and g["camera_name"] for g in inc["grants"])


def test_the_incident_purpose_is_the_audited_reason(api):
    inc = _open(api)
    resp = api.client.get(f"{TEST_PREFIX}/cameras/hq-1f-koseki-01/playback",
                          params={"start": T0.isoformat(),
                                  "end": (T0 + timedelta(minutes=5)).isoformat()},
                          headers=api.auth("tokatsu-koseki"))
    assert resp.status_code == 200, resp.text
    with api.sessions() as s:
        entry = s.scalars(select(m.AuditEntry).order_by(m.AuditEntry.seq.desc())
                          .limit(1)).one()
    assert entry.decision == "allow" and entry.detail["basis"] == "grant"
    assert entry.incident_id is not None
    assert entry.reason.startswith("インシデント#") and "端末の不審な操作の確認" in entry.reason
    # outside the incident's window a manager still states a reason of their own
    outside = api.client.get(f"{TEST_PREFIX}/cameras/hq-1f-koseki-01/playback",
                             params={"start": (T0 - timedelta(hours=3)).isoformat(),
                                     "end": (T0 - timedelta(hours=2)).isoformat()},
                             headers=api.auth("tokatsu-koseki"))
    assert outside.status_code == 400 and "reason" in outside.json()["detail"]
    assert inc["id"]


@pytest.mark.parametrize(("user", "state", "status"), [
    ("tokatsu-koseki", "reviewing", 200),     # the room's division manager checks
    ("tokatsu-koseki", "closed", 403),        # ... but does not close a case on own staff
    ("audit-watanabe", "reviewing", 404),     # takes no part
    ("tokatsu-zeimu", "reviewing", 404),      # another division
    ("kiki-sato", "closed", 200),             # crisis-management closes, with an outcome
])
def test_who_may_move_an_incident(api, user, state, status):
    inc = _open(api)
    resp = _move(api, user, inc["id"], state, "映像を確認、問題なし" if state == "closed" else None)
    assert resp.status_code == status, resp.text
    after = api.client.get(f"/api/v1/incidents/{inc['id']}", headers=api.auth("kiki-sato"))
    expected = state if status == 200 else "open"
    assert after.json()["state"] == expected  # a refusal changes nothing


def test_closing_needs_an_outcome_and_a_closed_incident_stays_closed(api):
    inc = _open(api)
    assert _move(api, "kiki-sato", inc["id"], "closed").status_code == 400
    assert _move(api, "kiki-sato", inc["id"], "closed", "問題なし").status_code == 200
    assert _move(api, "kiki-sato", inc["id"], "reviewing").status_code == 409


def test_bookmarks_and_notes_are_stored_and_audited(api):
    inc = _open(api)
    url = f"/api/v1/incidents/{inc['id']}/notes"
    moment = (T0 + timedelta(minutes=3)).isoformat()
    made = api.client.post(url, headers=api.auth("tokatsu-koseki"),
                           json={"kind": "bookmark", "text": "端末を操作している場面",
                                 "at": moment, "camera_id": "hq-1f-koseki-01"})
    assert made.status_code == 201, made.text
    assert made.json()["created_by_name"] == "戸籍住民分野 統括管理者"
    listed = api.client.get(url, headers=api.auth("kiki-sato")).json()
    assert [(n["kind"], n["at"]) for n in listed] == [("bookmark", "2026-11-20T01:03:00Z")]
    with api.sessions() as s:
        entry = s.scalars(select(m.AuditEntry).where(m.AuditEntry.action == "incident.note")
                          .order_by(m.AuditEntry.seq.desc()).limit(1)).one()
    assert entry.actor == "user:tokatsu-koseki" and entry.incident_id == inc["id"]
    assert entry.camera_id == "hq-1f-koseki-01" and entry.footage_start == T0 + timedelta(
        minutes=3)
    # refusals: another division (404), bad input (422/400/404), a closed incident (403)
    assert api.client.post(url, headers=api.auth("tokatsu-zeimu"),
                           json={"text": "x"}).status_code == 404
    assert api.client.post(url, headers=api.auth("tokatsu-koseki"),
                           json={"text": ""}).status_code == 422
    assert api.client.post(url, headers=api.auth("tokatsu-koseki"),
                           json={"text": "x", "at": "2026-11-20T01:00:00"}).status_code == 422
    assert api.client.post(url, headers=api.auth("tokatsu-koseki"),
                           json={"text": "x", "at": "1990-01-01T00:00:00Z"}).status_code == 400
    assert api.client.post(url, headers=api.auth("tokatsu-koseki"),
                           json={"text": "x", "camera_id": "nope"}).status_code == 404
    assert _move(api, "kiki-sato", inc["id"], "closed", "問題なし").status_code == 200
    assert api.client.post(url, headers=api.auth("tokatsu-koseki"),
                           json={"text": "後から"}).status_code == 403
    assert len(api.client.get(url, headers=api.auth("kiki-sato")).json()) == 1
