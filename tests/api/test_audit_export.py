"""Audit exports return every row, whatever the entries hold, or fail loudly.

Entries with extreme values are planted through camerahub.audit.append (as any writer could),
then the CSV export, the JSON listing and the summary must each account for every entry. An
export that breaks part way must end with a marker line and an aborted transfer, never as a
clean 200 with rows missing (finding 5: footage bounds in year 9999 overflowed Asia/Tokyo).
"""

from __future__ import annotations

import csv
import io
import socket
import threading
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from camerahub import audit
from camerahub.audit import query
from camerahub.db import models as m
from camerahub.times import wire_time

KOSEKI = "hq-1f-koseki-01"
YEAR_1 = datetime(1, 1, 1, tzinfo=UTC)
YEAR_9999 = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
NASTY = "\x01\x02\t\r\n\x1b[31m\x7f\u2028\u2029,\"quoted\",;=cmd|' \ufeff"
NON_BMP = "𠮷野家 😀 \U0001f3ef \U0010fffd"


def _plant(api, dialect: str) -> list[int]:
    """Entries at the edges of what a writer can hand to audit.append; their seqs."""
    planted = [
        dict(actor="user:kiki-sato", role="crisis-management", action="playback", decision="allow",
             camera_id=KOSEKI, footage_start=YEAR_1, footage_end=YEAR_9999),
        dict(actor="user:kiki-sato", action="playback", decision="deny", camera_id=KOSEKI,
             footage_start=datetime(9999, 12, 31, 15, 0, tzinfo=UTC), footage_end=YEAR_9999,
             reason=NON_BMP),
        dict(actor="user:ctl\x07\x00actor", action="live", decision="allow", camera_id=KOSEKI,
             reason=NASTY, client="\x00" * 100, incident_id=2**31 - 1),
        dict(actor="user:" + "x" * 1000, action="a" * 100, decision="d" * 50, reason="r" * 10_000,
             detail={"blob": "x" * 200_000, "many": {str(i): i for i in range(5000)},
                     "deep": _nested(40), "emoji": NON_BMP, "ctl": NASTY}),
        dict(actor="user:\ud800lone", action="snapshot", decision="allow", camera_id=KOSEKI,
             reason="high \ud83d low \ude00 alone", detail={"\udc00key": "\ud800value"}),
        dict(actor="anonymous", action="", decision="", reason="", detail={}),
    ]
    if dialect == "sqlite":  # PostgreSQL's json type refuses NaN, so it can only live here
        planted.append(dict(actor="user:nan", action="x", detail={"nan": float("nan"),
                                                            "inf": float("-inf")}))
    seqs = []
    with api.sessions.begin() as session:
        for fields in planted:
            seqs.append(audit.append(session, **fields).seq)
    return seqs


def _nested(depth: int) -> object:
    return {"d": _nested(depth - 1)} if depth else "bottom"


def _entries(api) -> int:
    with api.sessions() as session:
        return session.scalar(select(func.count()).select_from(m.AuditEntry))


def _csv_rows(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")
    csv.field_size_limit(1_000_000)  # the planted detail is longer than the default limit
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline="")))


@pytest.fixture
def planted(fresh_api):
    """A deployed app with the extreme entries in its audit trail."""
    dialect = fresh_api.app.state.camerahub.engine.dialect.name
    return fresh_api, _plant(fresh_api, dialect)


def test_csv_has_every_row_whatever_the_entries_hold(planted):
    api, seqs = planted
    resp = api.client.get("/api/v1/audit.csv", headers=api.auth("audit-watanabe"))
    assert resp.status_code == 200
    rows = _csv_rows(resp.content.decode("utf-8"))
    assert not any(r["seq"].startswith("#") for r in rows), "export says it is incomplete"
    total = _entries(api)
    assert len(rows) >= total - 1  # the export's own audit entry may land after it is read
    by_seq = {int(r["seq"]): r for r in rows}
    assert set(seqs) <= set(by_seq)
    first, second = by_seq[seqs[0]], by_seq[seqs[1]]
    assert first["footage_start_utc"] == "0001-01-01T00:00:00Z"
    assert first["footage_end_utc"] == "9999-12-31T23:59:59Z"
    assert first["footage_start_local"] == "0001-01-01T09:18:59+09:18:59"  # Tokyo's LMT
    assert first["footage_end_local"] == "9999-12-31T23:59:59Z"  # Tokyo is past 9999: UTC
    assert second["footage_start_local"] == "9999-12-31T15:00:00Z"
    assert second["reason"] == NON_BMP
    assert by_seq[seqs[2]]["reason"] == NASTY  # control characters survive, quoted
    assert by_seq[seqs[2]]["actor"] == "user:ctl\x07\ufffdactor"
    assert by_seq[seqs[2]]["incident_id"] == str(2**31 - 1)
    assert len(by_seq[seqs[3]]["reason"]) == 2000 and by_seq[seqs[3]]["reason"].endswith("…")
    assert by_seq[seqs[4]]["actor"] == "user:\ufffdlone"


def test_year_9999_footage_bounds_do_not_cut_the_csv(api):
    """The finding alone: one entry with year-9999 bounds, then more entries after it."""
    with api.sessions.begin() as session:
        audit.append(session, actor="user:kiki-sato", action="playback", camera_id=KOSEKI,
                     footage_start=datetime(9999, 12, 31, tzinfo=UTC), footage_end=YEAR_9999)
        after = [audit.append(session, actor=f"user:later-{i}", action="playback").seq
                 for i in range(600)]
    text = api.client.get("/api/v1/audit.csv", headers=api.auth("audit-watanabe")).text
    seqs = {int(row["seq"]) for row in _csv_rows(text)}
    assert set(after) <= seqs


def test_json_listing_has_every_row(planted):
    api, seqs = planted
    auth, seen, offset = api.auth("audit-watanabe"), [], 0
    while offset is not None:
        resp = api.client.get("/api/v1/audit", headers=auth,
                              params={"limit": 1000, "offset": offset})
        assert resp.status_code == 200, resp.text[:300]
        body = resp.json()
        seen += [item["seq"] for item in body["items"]]
        offset = body["next_offset"]
    assert len(seen) == len(set(seen)) >= _entries(api) - 1
    assert set(seqs) <= set(seen)
    items = {i["seq"]: i for i in api.client.get(
        "/api/v1/audit", headers=auth, params={"offset": seqs[0] - 1, "limit": 10}).json()["items"]}
    assert items[seqs[0]]["footage_end"] == "9999-12-31T23:59:59Z"
    assert items[seqs[3]]["detail"]["blob"] == "x" * 200_000
    assert items[seqs[4]]["detail"] == {"\ufffdkey": "\ufffdvalue"}
    if len(seqs) > 6:
        assert items[seqs[6]]["detail"] == {"nan": "nan", "inf": "-inf"}


def test_summary_counts_every_footage_entry(planted):
    api, _ = planted
    end = wire_time(datetime.now(UTC) + timedelta(hours=1))
    resp = api.client.get("/api/v1/audit/summary", headers=api.auth("audit-watanabe"),
                          params={"start": "2000-01-01T00:00:00Z", "end": end})
    assert resp.status_code == 200, resp.text[:300]
    counted = sum(a["allowed"] + a["denied"] for d in resp.json()["divisions"]
                  for a in d["accesses"])
    with api.sessions() as session:
        footage = session.scalar(select(func.count()).select_from(m.AuditEntry).where(
            m.AuditEntry.action.in_(query.FOOTAGE_ACTIONS)))
    assert counted == footage >= 4


def test_values_are_rendered_safely():
    assert query.safe({"a\ud800": [float("nan"), "b\udfff", 1.5, 2**70]}) == {
        "a\ufffd": ["nan", "b\ufffd", 1.5, 2**70]}
    assert query._iso(YEAR_9999, query.ZoneInfo("Asia/Tokyo")) == "9999-12-31T23:59:59Z"
    assert query._iso(YEAR_1, query.ZoneInfo("America/New_York")) == "0001-01-01T00:00:00Z"


# --- a failure part way through ------------------------------------------------------------


def _break_at(monkeypatch, seq: int) -> None:
    """Make the export fail at entry seq, as a lost database connection would."""
    real = query._csv_row

    def failing(entry, tz):
        if entry.seq >= seq:
            raise RuntimeError("database connection lost")
        return real(entry, tz)

    monkeypatch.setattr(query, "_csv_row", failing)


def _many_entries(api, n: int) -> list[int]:
    """n more entries; their seqs."""
    with api.sessions.begin() as session:
        return [audit.append(session, actor=f"user:user-{i}", action="playback",
                             camera_id=KOSEKI).seq for i in range(n)]


def test_a_failure_part_way_ends_with_a_marker_not_a_clean_end(api, monkeypatch):
    _break_at(monkeypatch, _many_entries(api, 700)[600])
    headers = api.auth("audit-watanabe")
    with pytest.raises(RuntimeError, match="database connection lost"):
        api.client.get("/api/v1/audit.csv", headers=headers)
    lenient = TestClient(api.app, raise_server_exceptions=False)
    text = lenient.get("/api/v1/audit.csv", headers=headers).content.decode("utf-8")
    last = text.rstrip("\r\n").rsplit("\r\n", 1)[-1]
    assert last.startswith("# EXPORT INCOMPLETE") and "do not use" in last
    assert len(_csv_rows(text)) > 500  # the first chunk had gone out before the failure


def test_over_real_http_the_transfer_is_aborted(api, monkeypatch):
    """Through uvicorn, the client sees a broken transfer, not a complete 200."""
    _break_at(monkeypatch, _many_entries(api, 700)[600])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(api.app, log_level="critical", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.02)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/api/v1/audit.csv"
        with pytest.raises(httpx.RemoteProtocolError), httpx.stream(
                "GET", url, headers=api.auth("audit-watanabe"), timeout=30) as resp:
            assert resp.status_code == 200
            b"".join(resp.iter_bytes())
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
