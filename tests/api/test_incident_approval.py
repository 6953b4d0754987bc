"""The customer's rules on incidents over HTTP (report 4 (2) イ, ウ).

A manager's incident grants only the room's own head and managers; in `incident` mode a
manager's own incident gives footage only once crisis-management approves it.
"""

from __future__ import annotations

from sqlalchemy import func, select

from camerahub.db import models as m
from tests.support.api import TEST_PREFIX
from tests.support.deployment import deploy_text, variant, with_inventory_change

KOSEKI = "hq-1f-koseki-01"
WINDOW = {"start": "2026-11-20T01:00:00Z", "end": "2026-11-20T01:05:00Z"}
INSIDE = {"start": "2026-11-20T01:01:00Z", "end": "2026-11-20T01:02:00Z", "reason": "確認のため"}


def _open(api, user: str, **extra):
    body = {"room_id": "hq-1f-koseki", "window": WINDOW, "reason": "端末操作の確認", **extra}
    return api.client.post("/api/v1/incidents", json=body, headers=api.auth(user))


def _incidents(api) -> int:
    with api.sessions() as s:
        return s.scalar(select(func.count()).select_from(m.Incident))


def test_a_manager_cannot_grant_another_divisions_manager(api):
    before = _incidents(api)
    resp = _open(api, "tokatsu-koseki", grant_to=["tokatsu-zeimu"])
    assert resp.status_code == 403 and "room's own" in resp.json()["detail"]
    assert _incidents(api) == before  # nothing half-written
    resp = _open(api, "tokatsu-koseki", grant_to=["bucho-kumin"])
    assert resp.status_code == 201 and resp.json()["state"] == "open"
    assert resp.json()["opened_by"] == "user:tokatsu-koseki"


def test_incident_mode_needs_crisis_managements_approval(fresh_api):
    api = fresh_api
    deploy_text(api.url, with_inventory_change(
        variant("manager_playback: standing", "manager_playback: incident")))
    footage = f"{TEST_PREFIX}/cameras/{KOSEKI}/playback"
    mgr = api.auth("tokatsu-koseki")
    assert api.client.get(footage, params=INSIDE, headers=mgr).status_code == 404
    opened = _open(api, "tokatsu-koseki")
    assert opened.status_code == 201, opened.text
    incident = opened.json()
    assert incident["state"] == "pending_approval" and incident["grants"] == []
    assert incident["holds"], "the footage is held at once"
    # no footage for the manager, and no approving one's own (or a colleague's) incident
    assert api.client.get(footage, params=INSIDE, headers=mgr).status_code == 404
    approve = f"/api/v1/incidents/{incident['id']}/approve"
    assert api.client.post(approve, headers=mgr).status_code == 403
    assert api.client.post(approve, headers=api.auth("bucho-kumin")).status_code == 403
    done = api.client.post(approve, headers=api.auth("kiki-sato"))
    assert done.status_code == 200 and done.json()["state"] == "open"
    assert {g["user"] for g in done.json()["grants"]} == {"tokatsu-koseki", "bucho-kumin"}
    resp = api.client.get(footage, params=INSIDE, headers=mgr)
    assert resp.status_code == 200 and resp.json()["basis"] == "grant"
    assert api.client.post(approve, headers=api.auth("kiki-sato")).status_code == 409
    with api.sessions() as s:
        entry = s.scalars(select(m.AuditEntry).where(
            m.AuditEntry.action == "incident.approve")).one()
        assert entry.actor == "user:kiki-sato" and entry.incident_id == incident["id"]


def test_crisis_management_opens_without_approval_in_incident_mode(fresh_api):
    api = fresh_api
    deploy_text(api.url, with_inventory_change(
        variant("manager_playback: standing", "manager_playback: incident")))
    resp = _open(api, "kiki-sato", grant_to=["tokatsu-zeimu"])
    assert resp.status_code == 201 and resp.json()["state"] == "open"


def test_keys_named_like_a_manager_or_an_alert_source_take_part_in_nothing(api):
    from camerahub.authz import accounts

    opened = _open(api, "tokatsu-koseki")
    assert opened.status_code == 201
    incident = opened.json()["id"]
    for name in ("tokatsu-koseki", "log-analyzer"):
        with api.sessions.begin() as s:
            _, key = accounts.create_api_key(s, name, "health")
        headers = {"X-API-Key": key}
        assert api.client.get("/api/v1/incidents", headers=headers).json() == []
        assert api.client.get(f"/api/v1/incidents/{incident}", headers=headers).status_code == 404
        moved = api.client.post(f"/api/v1/incidents/{incident}/state", headers=headers,
                                json={"state": "reviewing"})
        assert moved.status_code == 404
    assert api.client.get(f"/api/v1/incidents/{incident}",
                          headers=api.auth("tokatsu-koseki")).json()["state"] == "open"
