"""Stated reasons, time-boxed grants, incident mode, live for managers and policy reload."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from sqlalchemy import select

from camerahub.authz import create_grant
from camerahub.authz.errors import InvalidRequest, UnknownAccount
from camerahub.db import models as m
from tests.support.api import TEST_PREFIX
from tests.support.deployment import deploy_text, variant, with_inventory_change

KOSEKI, ZEIMU = "hq-1f-koseki-01", "hq-2f-kazei-a-01"
T0 = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)


def _url(camera: str, action: str = "playback") -> str:
    return f"{TEST_PREFIX}/cameras/{camera}/{action}"


def _range(start: datetime = T0, minutes: int = 10, **extra) -> dict:
    return {"start": start.isoformat(), "end": (start + timedelta(minutes=minutes)).isoformat(),
            **extra}


def _last_audit(api) -> m.AuditEntry:
    with api.sessions() as s:
        return s.scalars(select(m.AuditEntry).order_by(m.AuditEntry.seq.desc()).limit(1)).one()


def _grant(api, user: str, cameras: list[str], minutes: int = 60, expires_in=timedelta(hours=1),
           now: datetime | None = None, incident: int | None = None):
    with api.sessions.begin() as s:
        return create_grant(s, user_id=user, camera_ids=cameras, footage_start=T0,
                            footage_end=T0 + timedelta(minutes=minutes),
                            expires_at=(now or datetime.now(UTC)) + expires_in,
                            created_by="user:kiki-sato", incident_id=incident, now=now)


@pytest.mark.parametrize(("params", "headers", "status"), [
    ({}, {}, 400),
    ({"reason": ""}, {}, 400),
    ({"reason": "  x "}, {}, 400),
    ({"reason": "abc"}, {}, 400),
    ({"reason": "不正確認"}, {}, 200),
    ({}, {"X-Camerahub-Reason": "monthly check"}, 200),
    ({}, {"X-Camerahub-Reason": quote("アラート確認のため")}, 200),
    ({"reason": "x" * 2001}, {}, 400),
])
def test_managers_must_state_a_reason(api, params, headers, status):
    resp = api.client.get(_url(KOSEKI), params=_range(**params),
                          headers={**api.auth("tokatsu-koseki"), **headers})
    assert resp.status_code == status, resp.text
    entry = _last_audit(api)
    if status == 400 and len(params.get("reason", "")) <= 2000:
        assert "reason" in resp.json()["detail"]
        assert entry.decision == "deny" and entry.detail["basis"] == "reason-required"
    if status == 200:
        assert entry.decision == "allow" and len(entry.reason) >= 4
    if headers:
        assert entry.reason in ("monthly check", "アラート確認のため")


def test_crisis_management_needs_no_reason(api):
    resp = api.client.get(_url(KOSEKI, "live"), headers=api.auth("kiki-sato"))
    assert resp.status_code == 200 and resp.json()["start"] is not None


@pytest.mark.parametrize(("params", "status"), [
    ({"start": "2026-11-20T01:00:00Z"}, 400),
    ({"start": "yesterday", "end": "2026-11-20T01:00:00Z"}, 400),
    ({"start": "2026-11-20T01:00:00", "end": "2026-11-20T02:00:00"}, 400),
    ({"start": "2026-11-20T02:00:00Z", "end": "2026-11-20T01:00:00Z"}, 400),
    ({"start": "2026-11-20T10:00:00+09:00", "end": "2026-11-20T01:10:00Z"}, 200),
])
def test_footage_range_is_validated(api, params, status):
    resp = api.client.get(_url(KOSEKI, "export"), params=params, headers=api.auth("kiki-sato"))
    assert resp.status_code == status, resp.text


def test_grant_covers_only_its_cameras_range_and_lifetime(fresh_api):
    api = fresh_api
    _grant(api, "tokatsu-koseki", [ZEIMU], minutes=60, incident=None)
    auth = api.auth("tokatsu-koseki")
    inside = api.client.get(_url(ZEIMU), params=_range(T0 + timedelta(minutes=5)), headers=auth)
    assert inside.status_code == 200 and inside.json()["basis"] == "grant"
    assert inside.json()["reason"] is None  # a grant needs no stated reason
    outside = api.client.get(_url(ZEIMU), params=_range(T0 + timedelta(minutes=55)),
                             headers=auth)
    assert outside.status_code == 403  # visible through the grant, range not covered
    assert api.client.get(_url(ZEIMU, "export"), params=_range(), headers=auth).status_code == 403
    assert api.client.get(_url("hq-2f-kazei-a-02"), params=_range(),
                          headers=auth).status_code == 404
    listed = {c["id"] for c in api.client.get("/api/v1/cameras", headers=auth).json()}
    assert ZEIMU in listed and "hq-2f-kazei-a-02" not in listed
    assert api.client.get(f"/api/v1/cameras/{ZEIMU}", headers=auth).status_code == 200


def test_expired_and_revoked_grants_stop_working_without_cleanup(fresh_api):
    from camerahub.authz import revoke_grant

    api = fresh_api
    past = datetime.now(UTC) - timedelta(hours=2)
    _grant(api, "tokatsu-zeimu", [KOSEKI], now=past, expires_in=timedelta(hours=1))
    auth = api.auth("tokatsu-zeimu")
    assert api.client.get(_url(KOSEKI), params=_range(), headers=auth).status_code == 404
    rows = _grant(api, "tokatsu-zeimu", [KOSEKI])
    assert api.client.get(_url(KOSEKI), params=_range(), headers=auth).status_code == 200
    with api.sessions.begin() as s:
        revoke_grant(s, rows[0].id, "user:kiki-sato")
    assert api.client.get(_url(KOSEKI), params=_range(), headers=auth).status_code == 404


def test_grant_audit_names_the_incident(fresh_api):
    api = fresh_api
    with api.sessions.begin() as s:
        inc = m.Incident(kind="alert", employee_id="E1", room_id="hq-2f-kazei-a",
                         window_start=T0, window_end=T0 + timedelta(minutes=5), opened_by="user:x")
        s.add(inc)
        s.flush()
        incident_id = inc.id
    _grant(api, "tokatsu-koseki", [ZEIMU], incident=incident_id)
    resp = api.client.get(_url(ZEIMU), params=_range(), headers=api.auth("tokatsu-koseki"))
    assert resp.status_code == 200 and resp.json()["incident"] == incident_id
    entry = _last_audit(api)
    assert entry.incident_id == incident_id and entry.detail["basis"] == "grant"


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"camera_ids": ["no-such-camera"]}, InvalidRequest),
    ({"camera_ids": []}, InvalidRequest),
    ({"user_id": "ghost"}, UnknownAccount),
    ({"footage_end": T0}, InvalidRequest),
    ({"expires_at": datetime(2000, 1, 1, tzinfo=UTC)}, InvalidRequest),
    ({"footage_start": datetime(2026, 11, 20, 1, 0)}, InvalidRequest),
    ({"action": "deploy"}, InvalidRequest),
])
def test_create_grant_validates(api, kwargs, error):
    args = {"user_id": "tokatsu-koseki", "camera_ids": [ZEIMU], "footage_start": T0,
            "footage_end": T0 + timedelta(hours=1),
            "expires_at": datetime.now(UTC) + timedelta(hours=1), "created_by": "user:kiki-sato",
            **kwargs}
    with api.sessions() as s, pytest.raises(error):
        create_grant(s, **args)


def test_incident_mode_and_reload_without_restart(fresh_api):
    api = fresh_api
    auth = api.auth("tokatsu-koseki")
    ok = _range(reason="定期点検")
    assert api.client.get(_url(KOSEKI), params=ok, headers=auth).status_code == 200
    deploy_text(api.url, with_inventory_change(
        variant("manager_playback: standing", "manager_playback: incident")))
    assert api.client.get(_url(KOSEKI), params=ok, headers=auth).status_code == 404
    assert api.client.get("/api/v1/cameras", headers=auth).json() == []
    _grant(api, "tokatsu-koseki", [KOSEKI])
    resp = api.client.get(_url(KOSEKI), params=ok, headers=auth)
    assert resp.status_code == 200 and resp.json()["basis"] == "grant"
    assert [c["id"] for c in api.client.get("/api/v1/cameras", headers=auth).json()] == [KOSEKI]
    crisis = api.client.get(_url(KOSEKI), params=_range(), headers=api.auth("kiki-sato"))
    assert crisis.status_code == 200


def test_live_for_a_manager_with_live_true_after_redeploy(fresh_api):
    api = fresh_api
    auth = api.auth("tokatsu-koseki")
    live = {"reason": "窓口混雑の確認"}
    assert api.client.get(_url(KOSEKI, "live"), params=live, headers=auth).status_code == 403
    deploy_text(api.url, variant("  role: division-manager\n  scope: koseki\n",
                                 "  role: division-manager\n  scope: koseki\n  live: true\n"))
    assert api.client.get(_url(KOSEKI, "live"), params=live, headers=auth).status_code == 200
    assert api.client.get(_url(KOSEKI, "live"), headers=auth).status_code == 400
    assert api.client.get(_url(ZEIMU, "live"), params=live, headers=auth).status_code == 404
    cams = api.client.get("/api/v1/cameras", headers=auth).json()
    assert all(c["actions"] == ["live", "playback", "snapshot"] for c in cams)


def test_manager_live_setting_gives_every_manager_live(fresh_api):
    api = fresh_api
    deploy_text(api.url, with_inventory_change(
        variant("manager_live: false", "manager_live: true")))
    live = {"reason": "窓口混雑の確認"}
    for user, cam in (("bucho-kumin", ZEIMU), ("tokatsu-zeimu", ZEIMU)):
        resp = api.client.get(_url(cam, "live"), params=live, headers=api.auth(user))
        assert resp.status_code == 200
    resp = api.client.get(_url(KOSEKI, "live"), params=live, headers=api.auth("tokatsu-zeimu"))
    assert resp.status_code == 404
