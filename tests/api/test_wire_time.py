"""One time format on the wire: ISO 8601 in UTC with Z, as precise as the value and no more."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from camerahub.times import wire_time

T0 = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
TOKYO = timezone(timedelta(hours=9))


@pytest.mark.parametrize(("moment", "precision", "text"), [
    (T0, "auto", "2026-11-20T01:00:00Z"),
    (datetime(2026, 11, 20, 10, 0, tzinfo=TOKYO), "auto", "2026-11-20T01:00:00Z"),
    (T0.replace(microsecond=480_000), "auto", "2026-11-20T01:00:00.480Z"),
    (T0.replace(microsecond=480_123), "auto", "2026-11-20T01:00:00.480123Z"),
    (T0.replace(microsecond=480_123), "seconds", "2026-11-20T01:00:00Z"),
    (T0, "milliseconds", "2026-11-20T01:00:00.000Z"),
    (None, "auto", None),
])
def test_wire_time(moment, precision, text):
    assert wire_time(moment, precision) == text


def test_wire_time_reads_back_exactly():
    moment = T0.replace(microsecond=480_123)
    assert datetime.fromisoformat(wire_time(moment)) == moment


def test_naive_times_are_refused():
    with pytest.raises(ValueError):
        wire_time(datetime(2026, 11, 20, 1, 0))


def test_incident_times_travel_with_z(api):
    body = {"room_id": "hq-1f-koseki", "reason": "窓口での不審な操作の申告",
            "window": {"start": "2026-11-20T10:00:00+09:00", "end": "2026-11-20T10:05:00+09:00"}}
    resp = api.client.post("/api/v1/incidents", json=body, headers=api.auth("kiki-sato"))
    assert resp.status_code == 201, resp.text
    incident = resp.json()
    assert (incident["window_start"], incident["window_end"]) == (
        "2026-11-20T01:00:00Z", "2026-11-20T01:05:00Z")
    times = [incident["created_at"]] + [h[k] for h in incident["holds"] for k in ("start", "end")]
    times += [g["expires_at"] for g in incident["grants"]]
    assert incident["holds"] and incident["grants"]
    assert all(t.endswith("Z") for t in times), times
    listed = api.client.get("/api/v1/incidents", headers=api.auth("kiki-sato")).json()
    assert any(i["window_start"] == "2026-11-20T01:00:00Z" for i in listed)
