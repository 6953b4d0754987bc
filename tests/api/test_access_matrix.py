"""Every role against cameras inside and outside its area, for every action, over HTTP.

Expected outcomes come from the YAML's org tree (an oracle independent of the policy code):
allowed exactly where the rule allows, 404 alike for unknown and invisible cameras, 403 for
a refused action on a visible camera, and one audit entry per footage decision.
"""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from sqlalchemy import func, select

from camerahub.db import models as m
from tests.support.api import CAMERA_ACTIONS, SYSTEM_ACTIONS, TEST_PREFIX
from tests.support.deployment import cameras_in_area

START, END = "2026-11-20T01:00:00Z", "2026-11-20T01:10:00Z"
REASON = "月次点検のため"  # a stated reason, as managers must give on standing access

USERS = {  # user -> (role, area it holds the role in)
    "kiki-sato": ("crisis-management", None),
    "bucho-kumin": ("department-head", "kumin"),
    "tokatsu-koseki": ("division-manager", "koseki"),
    "tokatsu-zeimu": ("division-manager", "zeimu"),
    "tokatsu-sukoyaka-chubu": ("division-manager", "sukoyaka-chubu"),
    "ops-takahashi": ("ops", None),
    "audit-watanabe": ("auditor", None),
}
CAMERA_RULE = {  # role -> camera actions it may take where it sees the camera
    "crisis-management": {"live", "playback", "export", "snapshot", "hold", "incident"},
    # a snapshot is the current picture, i.e. live view: managers have it only with live
    "department-head": {"playback"},
    "division-manager": {"playback"},
    "ops": set(),
    "auditor": set(),
}
SYSTEM_RULE = {
    "crisis-management": {"hold", "incident"},
    "department-head": set(),
    "division-manager": set(),
    "ops": {"deploy", "health"},
    "auditor": {"audit"},
}
# Path segments as sent: real ids, and ids that must not bypass anything.
CAMERA_PATHS = [
    "hq-1f-koseki-01", "jimusho-minami-madoguchi-01", "hq-2f-kazei-a-01",
    "hq-3f-kosodate-01", "sukoyaka-chubu-soudan-01",
    "HQ-1F-KOSEKI-01",            # case-changed: simply unknown
    "Hq-1f-koseki-01",
    "hq%2D1f%2Dkoseki%2D01",      # percent-encoded: decodes to the real id, same outcome
    "hq-1f-koseki-0%31",
    "hq-1f-koseki-01%20",         # trailing space
    "hq-1f-koseki-01%00",         # NUL
    "%E6%88%B8%E7%B1%8D",         # 戸籍
    "no-such-camera",
]


def expected_status(api, user: str, camera: str, action: str) -> int:
    """The status the rule demands for user taking action on camera."""
    role, area = USERS[user]
    if role == "crisis-management":
        visible = cameras_in_area(api.cfg, None)
    elif area is not None:
        visible = cameras_in_area(api.cfg, area)
    else:
        visible = set()
    if camera not in visible:
        return 404
    return 200 if action in CAMERA_RULE[role] else 403


def _audit_count(api) -> int:
    with api.sessions() as s:
        return s.scalar(select(func.count()).select_from(m.AuditEntry))


def _last_audit(api) -> m.AuditEntry:
    with api.sessions() as s:
        return s.scalars(select(m.AuditEntry).order_by(m.AuditEntry.seq.desc()).limit(1)).one()


CASES = [(u, c, a) for u in USERS for c in CAMERA_PATHS for a in CAMERA_ACTIONS]


@pytest.mark.parametrize(("user", "path", "action"), CASES)
def test_camera_action(api, user, path, action):
    camera = unquote(path)
    want = expected_status(api, user, camera, action)
    headers = api.auth(user)  # sign in first: that is audited too
    before = _audit_count(api)
    resp = api.client.get(f"{TEST_PREFIX}/cameras/{path}/{action}", headers=headers,
                          params={"start": START, "end": END, "reason": REASON})
    assert resp.status_code == want, (user, camera, action, resp.text)
    assert resp.headers["content-type"].startswith("application/json")
    if want == 404:
        assert resp.json() == {"detail": "camera not found"}  # same body, never a hint
    if want == 200:
        assert resp.json()["camera"] == camera and resp.json()["basis"] == "policy"
    assert _audit_count(api) == before + 1, "every decision on footage is audited"
    entry = _last_audit(api)
    stored = camera.replace("\x00", "\ufffd")  # NUL is kept visible but storable
    assert (entry.actor, entry.action, entry.camera_id) == (f"user:{user}", action, stored)
    assert entry.decision == ("allow" if want == 200 else "deny")
    assert entry.role == USERS[user][0] and entry.client == "testclient"
    assert entry.reason == REASON
    if action in ("playback", "export"):
        assert entry.footage_start.isoformat() == "2026-11-20T01:00:00+00:00"
        assert entry.footage_end.isoformat() == "2026-11-20T01:10:00+00:00"


@pytest.mark.parametrize(("user", "action"), [(u, a) for u in USERS for a in SYSTEM_ACTIONS])
def test_system_action(api, user, action):
    resp = api.client.get(f"{TEST_PREFIX}/system/{action}", headers=api.auth(user))
    assert resp.status_code == (200 if action in SYSTEM_RULE[USERS[user][0]] else 403)


@pytest.mark.parametrize("user", USERS)
def test_camera_list_is_filtered(api, user):
    role, area = USERS[user]
    resp = api.client.get("/api/v1/cameras", headers=api.auth(user))
    assert resp.status_code == 200
    ids = {c["id"] for c in resp.json()}
    want = {"crisis-management": cameras_in_area(api.cfg, None)}.get(
        role, cameras_in_area(api.cfg, area) if area else set())
    assert ids == want
    for cam in resp.json():
        assert set(cam["actions"]) == CAMERA_RULE[role] & {"live", "playback", "export",
                                                           "snapshot"}


@pytest.mark.parametrize(("user", "path"), [(u, p) for u in USERS for p in CAMERA_PATHS])
def test_camera_detail(api, user, path):
    camera = unquote(path)
    want = 200 if expected_status(api, user, camera, "playback") != 404 else 404
    resp = api.client.get(f"/api/v1/cameras/{path}", headers=api.auth(user))
    assert resp.status_code == want
    if want == 200:
        assert resp.json()["id"] == camera
    else:
        assert resp.json() == {"detail": "camera not found"}


def test_undeclared_route_is_refused_to_everyone(api):
    assert api.client.get(f"{TEST_PREFIX}/undeclared").status_code == 401
    for user in USERS:
        resp = api.client.get(f"{TEST_PREFIX}/undeclared", headers=api.auth(user))
        assert resp.status_code == 403 and "leak" not in resp.text


def test_every_api_route_declares_its_access(api):
    from camerahub.api.access import ATTRIBUTE
    from camerahub.api.routes import ROUTERS, health

    routes = [r for router in (*ROUTERS, health.root) for r in router.routes]
    assert len(routes) >= 8
    assert all(hasattr(r.endpoint, ATTRIBUTE) for r in routes), [
        r.path for r in routes if not hasattr(r.endpoint, ATTRIBUTE)]
    public = sorted(r.path for r in routes if getattr(r.endpoint, ATTRIBUTE).public)
    # the wall socket carries no credential itself: each tile on it is decided by its own
    # media token (tests/live/test_live_wall_ws.py)
    assert public == ["/auth/token", "/healthz", "/live/wall.ws", "/readyz"]
    paths = api.client.get("/openapi.json").json()["paths"]
    assert {"/api/v1/auth/token", "/api/v1/cameras", "/api/v1/cameras/{camera_id}",
            "/api/v1/audit", "/api/v1/audit.csv", "/api/v1/audit/summary", "/healthz",
            "/metrics"} <= set(paths)


@pytest.mark.parametrize("action", CAMERA_ACTIONS)
def test_unauthenticated_is_401_even_for_unknown_cameras(api, action):
    for path in ("hq-1f-koseki-01", "no-such-camera"):
        resp = api.client.get(f"{TEST_PREFIX}/cameras/{path}/{action}")
        assert resp.status_code == 401 and resp.headers["www-authenticate"] == "Bearer"
