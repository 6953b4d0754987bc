"""Every parameter is bounded at the edge: times, ids, text, enums, bodies; never a 500.

Finding 5 of the hostile review: a footage request for year 9999 was a 404 whose audited
entry later cut the auditors' CSV short. Times outside 2000-01-01 .. now + 1 day are now a 400
naming the parameter on every route that takes a time, before anything is read or audited.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from camerahub.db import models as m
from camerahub.times import wire_time
from tests.support.api import TEST_PREFIX

KOSEKI = "hq-1f-koseki-01"
RANGE = {"start": "2026-11-20T01:00:00Z", "end": "2026-11-20T01:10:00Z"}
TIME_ROUTES = [  # (path, user, other query) of every route that takes a time
    ("/api/v1/audit", "audit-watanabe", {}),
    ("/api/v1/audit.csv", "audit-watanabe", {}),
    ("/api/v1/audit/summary", "audit-watanabe", {}),
    (f"/api/v1/cameras/{KOSEKI}/recordings", "kiki-sato", {}),
    (f"/api/v1/cameras/{KOSEKI}/clip.mp4", "kiki-sato", {}),
    (f"/api/v1/cameras/{KOSEKI}/playback.m3u8", "kiki-sato", {}),
    (f"/api/v1/cameras/{KOSEKI}/segments/1.ts", "kiki-sato", {}),
    (f"{TEST_PREFIX}/cameras/{KOSEKI}/playback", "kiki-sato", {}),
]
BAD_TIMES = ["9999-12-31T23:59:59Z", "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59",
             "1999-12-31T23:59:59Z", "2099-01-01T00:00:00+09:00"]
HUGE_IDS = [2**63, 2**64 + 1, 10**30, -(2**63) - 1, 0, -1]


def _error(resp, status: int) -> str:
    """The detail of a JSON error with that status (never a traceback)."""
    assert resp.status_code == status, (resp.status_code, resp.text[:300])
    assert resp.headers["content-type"].startswith("application/json")
    return resp.json()["detail"]


def _audit_count(api) -> int:
    with api.sessions() as session:
        return session.scalar(select(func.count()).select_from(m.AuditEntry))


@pytest.mark.parametrize(("path", "user", "extra"), TIME_ROUTES)
@pytest.mark.parametrize("which", ["start", "end"])
@pytest.mark.parametrize("bad", BAD_TIMES)
def test_times_outside_the_sane_range_are_400_naming_the_parameter(api, path, user, extra,
                                                                   which, bad):
    params = {**RANGE, **extra, which: bad}
    detail = _error(api.client.get(path, params=params, headers=api.auth(user)), 400)
    assert detail.startswith(f"{which} must be between 2000-01-01"), detail


@pytest.mark.parametrize(("path", "user", "extra"), TIME_ROUTES)
def test_times_that_are_no_times_are_400(api, path, user, extra):
    for bad in ("yesterday", "2026-11-20T01:00:00", "2" * 5000, "2026-13-01T00:00:00Z"):
        detail = _error(api.client.get(path, params={**RANGE, **extra, "start": bad},
                                       headers=api.auth(user)), 400)
        assert detail.startswith("start "), detail


def test_a_year_9999_footage_request_is_refused_and_the_export_stays_whole(api):
    """The finding itself: refused up front, nothing audited with year 9999, CSV complete."""
    before = _audit_count(api)
    resp = api.client.get(f"/api/v1/cameras/{KOSEKI}/recordings", headers=api.auth("kiki-sato"),
                          params={"start": "9999-12-31T00:00:00Z", "end": "9999-12-31T23:59:59Z"})
    assert _error(resp, 400).startswith("start must be between")
    assert _audit_count(api) == before  # refused before the decision: nothing to audit
    auth = api.auth("audit-watanabe")
    total = api.client.get("/api/v1/audit", headers=auth).json()["total"]
    text = api.client.get("/api/v1/audit.csv", headers=auth).content.decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert len(rows) >= total > 0


def test_times_inside_the_range_still_work(api):
    near = wire_time(datetime.now(UTC) + timedelta(hours=23))
    resp = api.client.get(f"{TEST_PREFIX}/cameras/{KOSEKI}/playback", headers=api.auth("kiki-sato"),
                          params={"start": "2000-01-01T00:00:00Z", "end": near})
    assert resp.status_code == 200, resp.text
    assert resp.json()["start"] == "2000-01-01T00:00:00+00:00"
    local = api.client.get(f"{TEST_PREFIX}/cameras/{KOSEKI}/playback",
                           headers=api.auth("kiki-sato"),
                           params={"start": "2026-11-20T10:00:00+09:00",
                                   "end": "2026-11-20T10:10:00+09:00"})
    assert local.json()["start"] == "2026-11-20T01:00:00+00:00"  # read as UTC


@pytest.mark.parametrize("value", HUGE_IDS)
def test_ids_outside_signed_64_bits_are_404(api, value):
    auth = api.auth("kiki-sato")
    get, post = api.client.get, api.client.post
    for resp in (get(f"/api/v1/incidents/{value}", headers=auth),
                 post(f"/api/v1/incidents/{value}/state", headers=auth,
                      json={"state": "reviewing"}),
                 post(f"/api/v1/incidents/{value}/release", headers=auth),
                 post(f"/api/v1/incidents/{value}/export", headers=auth),
                 get(f"/api/v1/cameras/{KOSEKI}/segments/{value}.ts", headers=auth,
                     params=RANGE)):
        _error(resp, 404)


def test_ids_that_are_no_integers_are_422(api):
    auth = api.auth("kiki-sato")
    for value in ("abc", "1.5", "9" * 5000):
        resp = api.client.get(f"/api/v1/incidents/{value}", headers=auth)
        assert resp.status_code == 422, resp.text[:200]


def test_a_huge_offset_is_refused_not_overflowing(api):
    auth = api.auth("audit-watanabe")
    assert api.client.get("/api/v1/audit", headers=auth,
                          params={"offset": 2**63 - 1}).status_code == 200
    for offset in (2**63, 10**30):
        resp = api.client.get("/api/v1/audit", headers=auth, params={"offset": offset})
        assert resp.status_code == 422, resp.text[:200]


@pytest.mark.parametrize(("path", "user", "params"), [
    ("/api/v1/audit", "audit-watanabe", {"decision": "maybe"}),
    ("/api/v1/audit", "audit-watanabe", {"format": "xml"}),
    ("/api/v1/audit.csv", "audit-watanabe", {"decision": "ALLOW"}),
    ("/api/v1/incidents", "kiki-sato", {"state": "deleted"}),
    ("/api/v1/audit", "audit-watanabe", {"user": "a\x01b"}),
    ("/api/v1/audit", "audit-watanabe", {"action": "x\x7f"}),
    ("/api/v1/audit.csv", "audit-watanabe", {"camera": "c\nd"}),
    ("/api/v1/audit", "audit-watanabe", {"camera": "x" * 201}),
])
def test_unknown_enum_values_and_control_characters_are_422(api, path, user, params):
    resp = api.client.get(path, params=params, headers=api.auth(user))
    assert resp.status_code == 422, resp.text[:200]


def test_login_fields_are_bounded(api):
    post = api.client.post
    huge = post("/api/v1/auth/token", data={"username": "kiki-sato", "password": "x" * 5000})
    assert huge.status_code == 422
    empty = post("/api/v1/auth/token", data={"username": "kiki-sato", "password": ""})
    assert empty.status_code == 422
    grant = post("/api/v1/auth/token", data={"username": "kiki-sato", "password": "x" * 20,
                                             "grant_type": "client_credentials"})
    assert grant.status_code == 422
    assert post("/api/v1/auth/token", data={"username": "kiki-sato",
                                            "password": "x" * 20}).status_code == 401
