"""The timeline API: spans by kind, merged to a resolution; thumbnails from stored segments.

The timeline is read against the real clock (the future and "not yet recorded" depend on
it), so the index rows are placed relative to now; nothing here waits on time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
import pytest
from sqlalchemy import select

from camerahub.db import models as m
from camerahub.db import segments as index
from camerahub.storage import segment_key
from camerahub.times import wire_time
from tests.support.media import segments as cut_segments

CAM = "hq-1f-koseki-01"  # 戸籍 room: the koseki manager's area
OTHER_AREA_MANAGER = "tokatsu-zeimu"
BASE = "/api/v1/cameras"
REASON = {"reason": "アラート確認のため"}


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _add(s, start: datetime, count: int, seconds: int = 10, tag: str = "t") -> None:
    for i in range(count):
        lo = start + timedelta(seconds=i * seconds)
        index.add_segment(s, camera_id=CAM, site_id="hq", start=lo,
                          end=lo + timedelta(seconds=seconds), nbytes=10, sha256="0" * 64,
                          key=f"hq/{CAM}/{tag}-{lo:%Y%m%dT%H%M%S}.ts")


@pytest.fixture(scope="module")
def line(api):
    """Footage of CAM over the last hour with an explained and an unexplained hole, one old
    held segment beyond retention, and an incident in the camera's room."""
    now = _now()
    base = now - timedelta(hours=1)
    old = now - timedelta(days=30, hours=2)
    with api.sessions.begin() as s:
        _add(s, old, 1, tag="old")
        s.add(m.Hold(camera_id=CAM, start=old, end=old + timedelta(seconds=10),
                     created_by="user:kiki-sato"))
        s.flush()
        index.refresh_held_flags(s, CAM, old, old + timedelta(seconds=10))
        _add(s, base, 120)                                          # 20 min
        index.record_gap(s, CAM, base + timedelta(minutes=20), base + timedelta(minutes=25),
                         "camera_offline", "no answer")
        _add(s, base + timedelta(minutes=25), 30)                   # 5 min
        # one unexplained minute, then footage up to 20 s ago (the segment being written)
        last = now - timedelta(seconds=20)
        start = base + timedelta(minutes=31)
        _add(s, start, int((last - start).total_seconds() // 10))
        s.add(m.Incident(kind="alert", state="open", room_id="hq-1f-koseki",
                         window_start=base + timedelta(minutes=5),
                         window_end=base + timedelta(minutes=15), reason="テスト",
                         opened_by="alert-source:test"))
    return api, now, base, old


def _timeline(api, user, start, end, **params):
    return api.client.get(f"{BASE}/{CAM}/timeline",
                          params={"start": wire_time(start), "end": wire_time(end),
                                  **REASON, **params},
                          headers=api.auth(user))


def _kinds(body) -> list[tuple]:
    return [(s["kind"], s.get("cause")) for s in body["spans"]]


def test_the_hour_is_told_span_by_span_and_the_future_is_not_missing(line):
    api, now, base, _ = line
    resp = _timeline(api, "kiki-sato", base - timedelta(minutes=10), now + timedelta(hours=1),
                     resolution=1)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert _kinds(body) == [
        ("gap", "no_recording"),
        ("recorded", None), ("gap", "camera_offline"), ("recorded", None),
        ("gap", "no_recording"), ("recorded", None), ("not_recorded", "in_progress"),
        ("not_recorded", "future")]
    spans = body["spans"]
    assert spans[2]["detail"] == "no answer"
    assert spans[1]["segments"] == 120 and spans[1]["hidden_gaps"] == 0
    future = spans[-1]
    assert future["end"] == wire_time(now + timedelta(hours=1))
    # The spans tile the range: each starts where the one before ended.
    assert spans[0]["start"] == body["start"] and spans[-1]["end"] == body["end"]
    assert all(a["end"] == b["start"] for a, b in zip(spans, spans[1:], strict=False))
    incident = [o for o in body["overlays"] if o["kind"] == "incident"]
    assert len(incident) == 1 and incident[0]["state"] == "open"
    assert incident[0]["start"] == wire_time(base + timedelta(minutes=5))


def test_before_the_first_recording_and_beyond_retention(line):
    api, _, _, old = line
    resp = _timeline(api, "kiki-sato", old - timedelta(minutes=10), old + timedelta(hours=3))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    kinds = _kinds(body)
    assert kinds[:3] == [("not_recorded", "before_first_recording"), ("recorded", None),
                         ("beyond_retention", None)]
    # after the retention horizon, nothing recorded is a gap again
    assert kinds[3] == ("gap", "no_recording")
    assert body["spans"][2]["end"] == body["retention_horizon"]
    held = [o for o in body["overlays"] if o["kind"] == "held"]
    assert len(held) == 1 and held[0]["start"] == wire_time(old)


def test_a_coarse_resolution_merges_short_holes_into_recorded(line):
    api, now, base, _ = line
    resp = _timeline(api, "kiki-sato", base + timedelta(minutes=25),
                     base + timedelta(minutes=40), resolution=120)
    body = resp.json()
    assert _kinds(body) == [("recorded", None)]
    assert body["spans"][0]["hidden_gaps"] == 1 and body["resolution_s"] == 120


def test_a_manager_sees_the_incident_of_their_area_and_needs_a_reason(line):
    api, now, base, _ = line
    ok = _timeline(api, "tokatsu-koseki", base, base + timedelta(minutes=30))
    assert ok.status_code == 200
    assert [o["kind"] for o in ok.json()["overlays"]] == ["incident"]
    no_reason = api.client.get(f"{BASE}/{CAM}/timeline",
                               params={"start": wire_time(base), "end": wire_time(now)},
                               headers=api.auth("tokatsu-koseki"))
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["detail"]
    other = _timeline(api, OTHER_AREA_MANAGER, base, now)
    assert other.status_code == 404
    with api.sessions() as s:
        entry = s.scalars(select(m.AuditEntry).order_by(m.AuditEntry.seq.desc())
                          .limit(1)).one()
    assert (entry.action, entry.decision, entry.camera_id) == ("timeline", "deny", CAM)


@pytest.mark.parametrize(("params", "status", "message"), [
    ({"resolution": "0"}, 422, "resolution"),
    ({"resolution": "nan"}, 422, "resolution"),
    ({"resolution": "4000"}, 422, "resolution"),
    ({"start": "2026-11-01T00:00:00Z", "end": "2026-11-05T00:00:00Z"}, 400, "at most"),
    ({"start": "2026-11-05T00:00:00Z", "end": "2026-11-01T00:00:00Z"}, 400, "after"),
])
def test_bad_timeline_requests_are_refused_clearly(line, params, status, message):
    api, now, base, _ = line
    query = {"start": wire_time(base), "end": wire_time(now), **params}
    resp = api.client.get(f"{BASE}/{CAM}/timeline", params=query,
                          headers=api.auth("kiki-sato"))
    assert resp.status_code == status, resp.text
    assert message in str(resp.json()["detail"])


# --- thumbnails -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stored(api, h264, tmp_path_factory):
    """Two real 4 s segments of a koseki room camera stored and indexed two days ago."""
    cam = "hq-1f-koseki-02"
    t0 = (_now() - timedelta(days=2)).replace(second=0)
    work = tmp_path_factory.mktemp("thumbs")
    items = cut_segments(h264(8), work / "spool", cam, "hq", t0, seconds=4)
    store = api.app.state.camerahub.footage.store
    with api.sessions.begin() as s:
        for item in items:
            key = segment_key("hq", cam, item.start_utc, item.duration_ms, "ts")
            store.put(key, item.path, item.sha256)
            index.add_segment(s, camera_id=cam, site_id="hq", start=item.start_utc,
                              end=item.start_utc + timedelta(milliseconds=item.duration_ms),
                              nbytes=item.bytes, sha256=item.sha256, key=key)
    return api, cam, items


def _thumb(api, cam, at, user="kiki-sato", **params):
    return api.client.get(f"{BASE}/{cam}/thumbnail.jpg",
                          params={"at": wire_time(at, "milliseconds"), **params},
                          headers=api.auth(user))


def test_a_thumbnail_is_the_frame_at_that_moment_and_is_audited(stored):
    api, cam, items = stored
    at = items[1].start_utc + timedelta(seconds=1.5)
    resp = _thumb(api, cam, at)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "image/jpeg"
    image = cv2.imdecode(np.frombuffer(resp.content, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape[1] == 320
    shown = datetime.fromisoformat(resp.headers["X-Camerahub-Frame-Time"])
    assert timedelta(0) <= shown - at <= timedelta(milliseconds=70)  # within one frame (15 fps)
    with api.sessions() as s:
        entry = s.scalars(select(m.AuditEntry).order_by(m.AuditEntry.seq.desc())
                          .limit(1)).one()
    assert (entry.action, entry.decision, entry.camera_id) == ("thumbnail", "allow", cam)
    assert entry.footage_start == at and entry.detail["frame"] == wire_time(shown,
                                                                          "milliseconds")
    again = _thumb(api, cam, at)  # from the cache, audited all the same
    assert again.content == resp.content
    with api.sessions() as s:
        assert s.scalars(select(m.AuditEntry).order_by(m.AuditEntry.seq.desc())
                         .limit(1)).one().seq == entry.seq + 1


def test_thumbnail_refusals(stored):
    api, cam, items = stored
    at = items[0].start_utc + timedelta(seconds=1)
    assert _thumb(api, cam, at - timedelta(hours=1)).status_code == 404
    assert _thumb(api, cam, at, user="tokatsu-koseki").status_code == 400  # no reason
    assert _thumb(api, cam, at, user="tokatsu-koseki", **REASON).status_code == 200
    assert _thumb(api, cam, at, user=OTHER_AREA_MANAGER, **REASON).status_code == 404
    missing = api.client.get(f"{BASE}/{cam}/thumbnail.jpg", headers=api.auth("kiki-sato"))
    assert missing.status_code == 400 and "at" in missing.json()["detail"]
    assert _thumb(api, cam, at, user="ops-takahashi").status_code == 404


def test_runs_are_joined_by_the_database_on_sqlite_and_postgresql(fresh_api):
    """The runs come from one window-function query on either database."""
    api = fresh_api
    t0 = _now() - timedelta(days=1)
    with api.sessions.begin() as s:
        _add(s, t0, 10)                                       # 100 s
        _add(s, t0 + timedelta(seconds=105), 10, tag="b")     # a 5 s hole
        _add(s, t0 + timedelta(seconds=230), 10, tag="c")     # a 25 s hole
    resp = _timeline(api, "kiki-sato", t0, t0 + timedelta(seconds=330), resolution=10)
    assert resp.status_code == 200, resp.text
    spans = resp.json()["spans"]
    assert _kinds(resp.json()) == [("recorded", None), ("gap", "no_recording"),
                                   ("recorded", None)]
    assert (spans[0]["segments"], spans[0]["hidden_gaps"]) == (20, 1)
    assert spans[1]["start"] == wire_time(t0 + timedelta(seconds=205))
    assert spans[2]["end"] == wire_time(t0 + timedelta(seconds=330))
