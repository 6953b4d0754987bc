"""GET /audit for auditors: filters, pages, CSV with Tokyo times, per-division summary."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from camerahub.times import wire_time
from tests.support.api import TEST_PREFIX

RANGE = {"start": "2026-11-20T01:00:00Z", "end": "2026-11-20T01:10:00Z"}


@pytest.fixture(scope="module")
def looked(api):
    """Some footage decisions to read back: allowed, denied and a reasoned manager look."""
    get = api.client.get
    get(f"{TEST_PREFIX}/cameras/hq-1f-koseki-01/playback", headers=api.auth("tokatsu-koseki"),
        params={**RANGE, "reason": "アラート確認"})
    get(f"{TEST_PREFIX}/cameras/hq-2f-kazei-a-01/playback", headers=api.auth("tokatsu-koseki"),
        params={**RANGE, "reason": "アラート確認"})
    get(f"{TEST_PREFIX}/cameras/hq-2f-kazei-a-01/live", headers=api.auth("kiki-sato"))
    return api


@pytest.mark.parametrize("user", ["kiki-sato", "ops-takahashi", "tokatsu-koseki",
                                  "bucho-kumin"])
def test_only_auditors_read_the_audit(looked, user):
    for path in ("/api/v1/audit", "/api/v1/audit.csv", "/api/v1/audit/summary"):
        resp = looked.client.get(path, headers=looked.auth(user), params=RANGE)
        assert resp.status_code == 403
    assert looked.client.get("/api/v1/audit").status_code == 401
    key = looked.key("health")
    assert looked.client.get("/api/v1/audit", headers={"X-API-Key": key}).status_code == 403


def test_filters_and_paging(looked):
    auth = looked.auth("audit-watanabe")
    body = looked.client.get("/api/v1/audit", headers=auth,
                             params={"user": "tokatsu-koseki", "action": "playback"}).json()
    assert body["total"] == 2
    assert [(i["camera_id"], i["decision"]) for i in body["items"]] == [
        ("hq-1f-koseki-01", "allow"), ("hq-2f-kazei-a-01", "deny")]
    item = body["items"][0]
    assert item["reason"] == "アラート確認" and item["role"] == "division-manager"
    assert item["at"].endswith("Z") and item["at_local"].endswith("+09:00")
    assert item["footage_start"] == "2026-11-20T01:00:00Z"
    cam = looked.client.get("/api/v1/audit", headers=auth,
                            params={"camera": "hq-2f-kazei-a-01"}).json()
    assert {i["actor"] for i in cam["items"]} == {"user:tokatsu-koseki", "user:kiki-sato"}
    typed = looked.client.get("/api/v1/audit", headers=auth,
                              params={"user": "user:tokatsu-koseki", "action": "playback"})
    assert typed.json()["total"] == 2  # a bare id and the typed actor name the same person
    page = looked.client.get("/api/v1/audit", headers=auth, params={"limit": 2}).json()
    assert len(page["items"]) == 2 and page["next_offset"] == 2 and page["total"] > 2
    nxt = looked.client.get("/api/v1/audit", headers=auth,
                            params={"limit": 2, "offset": 2}).json()
    assert nxt["items"][0]["seq"] == page["items"][1]["seq"] + 1
    soon = wire_time(datetime.now(UTC) + timedelta(hours=12))
    future = looked.client.get("/api/v1/audit", headers=auth, params={"start": soon}).json()
    assert future["total"] == 0
    beyond = looked.client.get("/api/v1/audit", headers=auth,
                               params={"start": "2099-01-01T00:00:00Z"})
    assert beyond.status_code == 400 and beyond.json()["detail"].startswith("start must be")


def test_reading_the_audit_is_itself_audited(looked):
    auth = looked.auth("audit-watanabe")
    looked.client.get("/api/v1/audit", headers=auth)
    body = looked.client.get("/api/v1/audit", headers=auth,
                             params={"user": "audit-watanabe", "action": "audit"}).json()
    assert body["total"] >= 1 and body["items"][0]["decision"] == "allow"


@pytest.mark.parametrize(("path", "extra"), [("/api/v1/audit.csv", {}),
                                             ("/api/v1/audit", {"format": "csv"})])
def test_csv_export(looked, path, extra):
    resp = looked.client.get(path, headers=looked.auth("audit-watanabe"),
                             params={"user": "tokatsu-koseki", "action": "playback", **extra})
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    text = resp.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert len(rows) == 2
    assert rows[0]["at_utc"].endswith("Z") and rows[0]["at_local"].endswith("+09:00")
    assert rows[0]["footage_start_local"] == "2026-11-20T10:00:00+09:00"
    assert rows[0]["reason"] == "アラート確認" and rows[1]["decision"] == "deny"


def test_summary_per_division(looked):
    resp = looked.client.get("/api/v1/audit/summary", headers=looked.auth("audit-watanabe"),
                             params={"start": "2000-01-01T00:00:00Z",
                                     "end": wire_time(datetime.now(UTC) + timedelta(hours=1))})
    assert resp.status_code == 200
    body = resp.json()
    assert body["timezone"] == "Asia/Tokyo" and body["end_local"].endswith("+09:00")
    by_div = {d["division"]: d for d in body["divisions"]}
    koseki = by_div["koseki"]
    assert koseki["department"] == "kumin"
    row = next(a for a in koseki["accesses"] if a["user"] == "user:tokatsu-koseki")
    assert (row["allowed"], row["denied"]) == (1, 0) and row["cameras"] == ["hq-1f-koseki-01"]
    zeimu = {(a["user"], a["action"]): a for a in by_div["zeimu"]["accesses"]}
    assert zeimu[("user:tokatsu-koseki", "playback")]["denied"] == 1
    assert zeimu[("user:kiki-sato", "live")]["allowed"] == 1


def test_summary_needs_a_period(looked):
    resp = looked.client.get("/api/v1/audit/summary", headers=looked.auth("audit-watanabe"))
    assert resp.status_code == 422
