"""Bodies are bounded at the edge too: text no database can store, malformed JSON, times
outside the sane range, texts longer than an audit column; a clear 4xx, never a 500, and
nothing half-written.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from camerahub.db import models as m


def _error(resp, status: int) -> str:
    """The detail of a JSON error with that status (never a traceback)."""
    assert resp.status_code == status, (resp.status_code, resp.text[:300])
    assert resp.headers["content-type"].startswith("application/json")
    return resp.json()["detail"]


SURROGATE_BODIES = [
    b'{"room_id": "hq-1f-koseki", "reason": "\\ud800 lone high surrogate",'
    b' "window": {"start": "2026-11-20T01:00:00Z", "end": "2026-11-20T01:10:00Z"}}',
    b'{"room_id": "hq-1f-koseki", "reason": "lone low \\uDC00 surrogate",'
    b' "window": {"start": "2026-11-20T01:00:00Z", "end": "2026-11-20T01:10:00Z"}}',
]


@pytest.mark.parametrize("body", SURROGATE_BODIES)
def test_json_text_no_database_can_store_is_400(fresh_api, body):
    """SQLite and PostgreSQL both refuse lone surrogates; the edge refuses them first."""
    api = fresh_api
    with api.sessions() as session:
        incidents = session.scalar(select(func.count()).select_from(m.Incident))
    for ctype in ("application/json", None):
        headers = {**api.auth("kiki-sato"), **({"content-type": ctype} if ctype else {})}
        resp = api.client.post("/api/v1/incidents", content=body, headers=headers)
        assert "surrogate" in _error(resp, 400)
    with api.sessions() as session:
        assert session.scalar(select(func.count()).select_from(m.Incident)) == incidents
    paired = body.replace(b"\\ud800", b"\\ud83d\\ude00").replace(b"\\uDC00", b"\\u00e9")
    ok = api.client.post("/api/v1/incidents", content=paired,
                         headers={**api.auth("kiki-sato"), "content-type": "application/json"})
    assert ok.status_code == 201, ok.text


@pytest.mark.parametrize("body", [b"{bad json", b"[1, 2", b'{"room_id": 5}', b"\xff\xfe",
                                  b"[" * 100000 + b"]" * 100000, b'"\\ud800"'])
def test_malformed_json_bodies_are_4xx(api, body):
    for path in ("/api/v1/incidents", "/api/v1/incidents/1/state"):
        resp = api.client.post(path, content=body, headers={**api.auth("kiki-sato"),
                                                            "content-type": "application/json"})
        assert resp.status_code in (400, 422), (path, body[:20], resp.status_code)
        assert "detail" in resp.json()


def test_an_alert_for_year_9999_is_refused_before_anything_is_written(fresh_api):
    """It used to pass validation and overflow adding the hold margin: a 500."""
    api = fresh_api
    key = {"X-API-Key": api.key("alerts:log-analyzer")}
    alert = {"alert_id": "A-9999", "rule": "bulk-browse", "employee_id": "E1",
             "terminal_id": "T-HQ-1F-KOSEKI-01",
             "window": {"start": "9999-12-31T23:00:00Z", "end": "9999-12-31T23:50:00Z"}}
    resp = api.client.post("/api/v1/alerts", json=alert, headers=key)
    assert resp.status_code == 422, resp.text
    assert "window start must be between" in resp.text
    alert["window"] = {"start": "0001-01-01T00:00:00Z", "end": "0001-01-01T00:10:00Z"}
    assert api.client.post("/api/v1/alerts", json=alert, headers=key).status_code == 422
    with api.sessions() as session:
        assert session.scalar(select(func.count()).select_from(m.Alert)) == 0


def test_long_texts_fit_the_audit_trail_on_every_backend(fresh_api):
    """A 4000-character incident reason is valid; its audit entry once overflowed PostgreSQL's
    2000-character column (a 500 and no incident)."""
    api = fresh_api
    body = {"room_id": "hq-1f-koseki", "reason": "理由" * 2000,
            "window": {"start": "2026-11-20T01:00:00Z", "end": "2026-11-20T01:10:00Z"}}
    resp = api.client.post("/api/v1/incidents", json=body, headers=api.auth("kiki-sato"))
    assert resp.status_code == 201, resp.text[:300]
    assert resp.json()["reason"] == body["reason"]  # the incident keeps all of it
    entries = api.client.get("/api/v1/audit", headers=api.auth("audit-watanabe"),
                             params={"action": "incident.open"}).json()["items"]
    assert len(entries[-1]["reason"]) == 2000 and entries[-1]["reason"].endswith("\u2026")
