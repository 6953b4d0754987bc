"""The audit trail is complete and truthful: one entry per footage request, with its outcome.

Every attempt at footage (listing, clip, playlist, segment, snapshot, live, media token,
camera lookup), with or without credentials, allowed or refused, leaves exactly one entry
naming the caller (or anonymous and the client address), the camera, the range and what
really happened: a request the policy allowed but the route refused is a "fail", not an
"allow". Anonymous floods are aggregated per minute with a count, never dropped.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from camerahub.api.deps import live_hub
from camerahub.audit.throttle import Throttle
from camerahub.db import models as m
from camerahub.db import segments as index
from camerahub.times import wire_time
from tests.api.test_media_tokens import NoCameraHub

CAM_A, CAM_B = "hq-1f-koseki-01", "hq-2f-kazei-a-01"
T0 = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
RANGE = {"start": "2026-11-20T01:00:00Z", "end": "2026-11-20T01:00:10Z",
         "at": "2026-11-20T01:00:00Z"}  # "at": the thumbnail route's moment
BASE = "/api/v1/cameras"


@pytest.fixture(scope="module")
def trail(api):
    """The module's app, with one indexed segment of camera B and no live cameras."""
    with api.sessions.begin() as s:
        seg = index.add_segment(s, camera_id=CAM_B, site_id="hq", start=T0,
                                end=T0 + timedelta(seconds=10), nbytes=10, sha256="0" * 64,
                                key=f"hq/{CAM_B}/audit-trail-test.ts")
        seg_id = seg.id
    api.app.dependency_overrides[live_hub] = NoCameraHub
    yield api, seg_id
    api.app.dependency_overrides.pop(live_hub, None)


def _count(api) -> int:
    with api.sessions() as s:
        return s.scalar(select(func.count()).select_from(m.AuditEntry))


def _last(api) -> m.AuditEntry:
    with api.sessions() as s:
        return s.scalars(select(m.AuditEntry).order_by(m.AuditEntry.seq.desc()).limit(1)).one()


def _one_entry(api, method: str, url: str, **kwargs):
    """Send one request with a fresh flood window; return it and its single new entry."""
    api.app.state.camerahub.throttle = Throttle()
    before = _count(api)
    resp = api.client.request(method, url, **kwargs)
    assert _count(api) == before + 1, f"one entry per request: {method} {url}"
    return resp, _last(api)


FOOTAGE_URLS = [
    ("GET", f"{BASE}/{CAM_A}/recordings", "recordings"),
    ("GET", f"{BASE}/{CAM_A}/timeline", "timeline"),
    ("GET", f"{BASE}/{CAM_A}/thumbnail.jpg", "thumbnail"),
    ("GET", f"{BASE}/{CAM_A}/clip.mp4", "playback"),
    ("GET", f"{BASE}/{CAM_A}/playback.m3u8", "playback"),
    ("GET", f"{BASE}/{CAM_A}/segments/1.ts", "playback"),
    ("GET", f"{BASE}/{CAM_A}/snapshot.jpg", "snapshot"),
    ("GET", f"{BASE}/{CAM_A}/live.mp4", "live"),
    ("POST", f"{BASE}/{CAM_A}/media-token", "media-token"),
    ("GET", f"{BASE}/{CAM_A}", "view"),
]


@pytest.mark.parametrize(("method", "url", "action"), FOOTAGE_URLS)
def test_anonymous_attempts_are_recorded(trail, method, url, action):
    api, _ = trail
    resp, entry = _one_entry(api, method, url, params=RANGE)
    assert resp.status_code == 401
    assert (entry.actor, entry.action, entry.decision) == ("anonymous", action, "deny")
    assert entry.camera_id == CAM_A and entry.client == "testclient"
    assert entry.detail["status"] == 401 and entry.detail["principal"] == "anonymous"
    if action == "playback":
        assert entry.footage_start == T0


@pytest.mark.parametrize(("method", "url", "action"), FOOTAGE_URLS)
def test_refused_attempts_are_recorded_with_user_and_camera(trail, method, url, action):
    api, _ = trail
    url = url.replace(CAM_A, CAM_B)  # not in the koseki manager's area
    resp, entry = _one_entry(api, method, url, params={**RANGE, "reason": "点検のため"},
                             headers=api.auth("tokatsu-koseki"))
    assert resp.status_code == 404
    assert (entry.actor, entry.action, entry.decision) == ("user:tokatsu-koseki", action, "deny")
    assert entry.camera_id == CAM_B and entry.detail["basis"] == "not-visible"


def test_media_token_issue_is_recorded(trail):
    api, _ = trail
    resp, entry = _one_entry(api, "POST", f"{BASE}/{CAM_A}/media-token",
                             headers=api.auth("tokatsu-koseki"))
    assert resp.status_code == 200
    assert (entry.actor, entry.action, entry.decision) == ("user:tokatsu-koseki", "media-token",
                                                           "allow")
    assert entry.camera_id == CAM_A


@pytest.mark.parametrize(("url", "params", "status", "message"), [
    (f"{BASE}/{CAM_A}/clip.mp4", RANGE, 404, "no footage in that range"),
    (f"{BASE}/{CAM_A}/playback.m3u8", RANGE, 404, "no footage in that range"),
    (f"{BASE}/{CAM_A}/recordings", {"start": "2026-11-01T00:00:00Z",
                                     "end": "2026-11-20T00:00:00Z"}, 400, "at most"),
    (f"{BASE}/{CAM_A}/clip.mp4", {"start": "2026-11-01T00:00:00Z",
                                   "end": "2026-11-20T00:00:00Z"}, 400, "at most"),
    (f"{BASE}/{CAM_A}/snapshot.jpg", {}, 503, "not in this test"),
])
def test_allowed_by_policy_but_refused_by_the_route_is_not_an_allow(trail, url, params,
                                                                   status, message):
    api, _ = trail
    resp, entry = _one_entry(api, "GET", url, params=params, headers=api.auth("kiki-sato"))
    assert resp.status_code == status, resp.text
    assert entry.decision == "fail" and entry.detail["basis"] == "policy"
    assert entry.detail["status"] == status and message in entry.detail["error"]


def test_another_cameras_segment_is_a_fail(trail):
    api, seg_id = trail
    resp, entry = _one_entry(api, "GET", f"{BASE}/{CAM_A}/segments/{seg_id}.ts", params=RANGE,
                             headers=api.auth("kiki-sato"))
    assert resp.status_code == 404
    assert entry.decision == "fail" and entry.camera_id == CAM_A
    assert entry.detail["error"] == "segment not found"


def test_an_anonymous_flood_is_counted_not_dropped(trail):
    api, _ = trail
    api.app.state.camerahub.throttle = Throttle()
    before = _count(api)
    for i in range(30):
        cam = CAM_A if i % 2 else CAM_B
        assert api.client.get(f"{BASE}/{cam}/clip.mp4", params=RANGE).status_code == 401
    assert _count(api) == before + 1  # the first one, in full
    resp = api.client.get("/api/v1/audit", headers=api.auth("audit-watanabe"))
    assert resp.status_code == 200  # reading flushes nothing that has not ended yet
    api.app.state.camerahub.throttle.window = timedelta(0)  # the minute is over
    body = api.client.get("/api/v1/audit", headers=api.auth("audit-watanabe"),
                          params={"user": "anonymous", "action": "playback"}).json()
    aggregates = [i for i in body["items"] if i["detail"].get("aggregate")]
    assert aggregates and aggregates[-1]["detail"]["count"] == 29
    assert aggregates[-1]["detail"]["cameras"] == sorted([CAM_A, CAM_B])
    assert aggregates[-1]["client"] == "testclient" and aggregates[-1]["decision"] == "deny"


def test_the_summary_counts_aggregated_requests(trail):
    api, _ = trail
    api.app.state.camerahub.throttle = Throttle(window=timedelta(0))
    body = api.client.get("/api/v1/audit/summary", headers=api.auth("audit-watanabe"),
                          params={"start": "2000-01-01T00:00:00Z",
                                  "end": wire_time(datetime.now(UTC) + timedelta(hours=1))}
                          ).json()
    rows = [a for d in body["divisions"] for a in d["accesses"] if a["user"] == "anonymous"]
    assert sum(r["denied"] for r in rows) >= 30
