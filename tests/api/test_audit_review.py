"""The audit screen's API: action families, division filter, names, grants and the summary.

Auditors read names, not ids; "auth" finds sign-ins (stored as auth.login); a division's
entries include its incidents' exports; an export (no camera, an incident) is filed under
the incident room's division, never "(unknown camera)".
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from camerahub import audit
from camerahub.authz import create_grant
from camerahub.db import models as m
from tests.support.api import TEST_PREFIX

RANGE = {"start": "2026-11-20T01:00:00Z", "end": "2026-11-20T01:10:00Z"}
T0 = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def trail(api):
    api.login("tokatsu-koseki")
    api.login("tokatsu-zeimu")
    api.client.get(f"{TEST_PREFIX}/cameras/hq-1f-koseki-01/playback",
                   headers=api.auth("tokatsu-koseki"), params={**RANGE, "reason": "アラート確認"})
    with api.sessions.begin() as s:
        incident = m.Incident(kind="alert", state="open", room_id="hq-1f-koseki",
                              window_start=T0, window_end=T0 + timedelta(minutes=10),
                              reason="テスト", opened_by="alert-source:test")
        s.add(incident)
        s.flush()
        create_grant(s, user_id="tokatsu-koseki", camera_ids=["hq-1f-koseki-01"],
                     footage_start=T0, footage_end=T0 + timedelta(minutes=10),
                     expires_at=datetime.now(UTC) + timedelta(hours=1),
                     created_by="alert-source:test", incident_id=incident.id)
        audit.append(s, actor="user:kiki-sato", role="crisis-management", action="export",
                     decision="allow", incident_id=incident.id, footage_start=T0,
                     footage_end=T0 + timedelta(minutes=10))
    return api, incident.id


def _get(api, **params):
    resp = api.client.get("/api/v1/audit", headers=api.auth("audit-watanabe"), params=params)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_a_family_of_actions_matches_its_codes(trail):
    api, _ = trail
    logins = _get(api, action="auth", user="tokatsu-koseki")
    assert logins["total"] >= 2  # the fixture's and the token helper's sign-in
    assert {i["action"] for i in logins["items"]} == {"auth.login"}
    assert _get(api, action="auth.login", user="tokatsu-koseki")["total"] == logins["total"]
    assert _get(api, action="au")["total"] == 0  # a family is a whole word, not a prefix
    assert _get(api, action="auth_")["total"] == 0


def test_entries_carry_names_and_grants_name_the_grantee(trail):
    api, incident = trail
    grant = _get(api, action="grant.create")["items"][-1]
    assert grant["names"]["grantee"] == "戸籍住民分野 統括管理者"
    assert grant["footage_start"] == "2026-11-20T01:00:00Z"
    assert grant["names"]["cameras"] == ["1階 戸籍執務室 カメラ1"]
    look = _get(api, action="playback", user="tokatsu-koseki")["items"][-1]
    assert look["names"]["actor"] == "戸籍住民分野 統括管理者"
    assert look["names"]["camera"] == "1階 戸籍執務室 カメラ1"
    assert look["names"]["room"] == "1階 戸籍執務室"


def test_the_division_filter_takes_cameras_and_incidents(trail):
    api, incident = trail
    koseki = _get(api, division="koseki", limit=1000)
    actions = {i["action"] for i in koseki["items"]}
    assert {"playback", "export", "grant.create"} <= actions
    assert all(i["camera_id"] in (None, "hq-1f-koseki-01", "hq-1f-koseki-02")
               or i["camera_id"].startswith("hq-1f-koseki") for i in koseki["items"])
    assert _get(api, division="zeimu", action="export")["total"] == 0


def test_the_summary_files_exports_under_the_incident_division(trail):
    api, _ = trail
    body = api.client.get("/api/v1/audit/summary", headers=api.auth("audit-watanabe"),
                          params={"start": "2020-01-01T00:00:00Z",
                                  "end": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}
                          ).json()
    divisions = {d["division"]: d for d in body["divisions"]}
    assert "(unknown camera)" not in divisions
    koseki = divisions["koseki"]
    assert koseki["division_name"] and koseki["department_name"]
    assert "export" in {a["action"] for a in koseki["accesses"]}
    users = {(u["user"], u["action"]): u for u in body["users"]}
    assert users[("user:kiki-sato", "export")]["allowed"] == 1
    assert users[("user:tokatsu-koseki", "playback")]["user_name"] == "戸籍住民分野 統括管理者"
