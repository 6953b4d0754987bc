"""A media token opens GET of its own camera's media URLs, and nothing else.

Every route of the app is tried with a media token of camera A: in the query string on
camera A, in the query string on camera B, and as a bearer token. Only GET of A's media
URLs passes authorization; every other cell is a 401 that the audit trail records with the
token's user and the camera asked for.
"""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import select

from camerahub.api.access import rule_of
from camerahub.api.deps import live_hub
from camerahub.audit.throttle import Throttle
from camerahub.db import models as m
from camerahub.live import LiveUnavailable

CAM_A, CAM_B = "hq-1f-koseki-01", "hq-2f-kazei-a-01"
QUERY = {"start": "2026-11-20T01:00:00Z", "end": "2026-11-20T01:00:10Z", "reason": "点検のため",
         "at": "2026-11-20T01:00:05Z"}  # at: the thumbnail's moment
MEDIA_PATHS = {"/api/v1/cameras/{camera_id}/live.mp4", "/api/v1/cameras/{camera_id}/snapshot.jpg",
               "/api/v1/cameras/{camera_id}/clip.mp4",
               "/api/v1/cameras/{camera_id}/thumbnail.jpg",
               "/api/v1/cameras/{camera_id}/playback.m3u8",
               "/api/v1/cameras/{camera_id}/segments/{segment_id}.ts"}
CELLS = ("query-on-A", "query-on-B", "bearer-on-A")


class NoCameraHub:
    """Live view without cameras: the route runs, the camera is 'unavailable' at once."""

    def subscribe(self, camera_id, loop=None, profile=None):
        raise LiveUnavailable(f"camera {camera_id}: not in this test")

    def snapshot(self, camera_id, quality=85, recent_s=None):
        raise LiveUnavailable(f"camera {camera_id}: not in this test")


def _routes(app) -> list[tuple[str, str]]:
    """(method, path template) of every non-public API route of the app (included routers
    are walked with FastAPI's own iterator, so the full mounted path is used)."""
    out = []
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        if isinstance(route, APIRoute) and not rule_of(route.endpoint).public:
            out += [(method, ctx.path) for method in sorted(route.methods - {"HEAD"})]
    return out


def _fill(path: str, camera: str) -> str:
    """A concrete URL for a path template: the camera given, 1 for every other parameter."""
    path = path.replace("{camera_id}", camera)
    return re.sub(r"\{[^}]+\}", "1", path)


@pytest.fixture(scope="module")
def media(api):
    """kiki-sato (who may do everything) holds a media token for camera A."""
    api.app.dependency_overrides[live_hub] = NoCameraHub
    resp = api.client.post(f"/api/v1/cameras/{CAM_A}/media-token", headers=api.auth("kiki-sato"))
    assert resp.status_code == 200, resp.text
    yield api, resp.json()["access_token"]
    api.app.dependency_overrides.pop(live_hub, None)


def _last(api) -> m.AuditEntry | None:
    with api.sessions() as s:
        return s.scalars(select(m.AuditEntry).order_by(m.AuditEntry.seq.desc()).limit(1)).first()


def _send(api, method: str, path: str, cell: str, token: str):
    camera = CAM_B if cell == "query-on-B" else CAM_A
    url = _fill(path, camera)
    if cell == "bearer-on-A":
        return api.client.request(method, url, params=QUERY,
                                  headers={"Authorization": f"Bearer {token}"})
    return api.client.request(method, url, params={**QUERY, "access_token": token})


def test_every_route_is_in_the_table(media):
    api, _ = media
    paths = {p for _, p in _routes(api.app)}
    assert paths >= MEDIA_PATHS  # the media URLs are among the routes tried
    assert "/api/v1/cameras/{camera_id}/media-token" in paths
    assert len(paths) > 20


@pytest.mark.parametrize("cell", CELLS)
def test_media_token_on_every_route(media, cell):
    api, token = media
    for method, path in _routes(api.app):
        api.app.state.camerahub.throttle = Throttle()
        before = _last(api)
        resp = _send(api, method, path, cell, token)
        allowed = cell == "query-on-A" and method == "GET" and path in MEDIA_PATHS
        entry = _last(api)
        assert entry is not None and (before is None or entry.seq > before.seq), (method, path)
        if allowed:  # authorization passed; the route then answered as it could
            assert resp.status_code not in (401, 403), (method, path, resp.text)
            assert entry.detail["basis"] == "policy", (method, path, entry.detail)
            assert entry.detail["principal"] == "media"
        else:
            assert resp.status_code == 401, (method, path, cell, resp.status_code)
            assert entry.decision == "deny" and entry.actor == "user:kiki-sato", (method, path)
            assert entry.detail["basis"] == "credential-scope"
            assert entry.detail["token_camera"] == CAM_A
        if "{camera_id}" in path:
            assert entry.camera_id == (CAM_B if cell == "query-on-B" else CAM_A)


def test_a_media_token_mints_no_token(media):
    api, token = media
    url = f"/api/v1/cameras/{CAM_A}/media-token"
    assert api.client.post(url, params={"access_token": token}).status_code == 401
    assert api.client.post(url, headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_a_session_token_is_not_a_url_credential(media):
    api, _ = media
    bearer = api.token("kiki-sato")
    resp = api.client.get(f"/api/v1/cameras/{CAM_A}/clip.mp4",
                          params={**QUERY, "access_token": bearer})
    assert resp.status_code == 401
    entry = _last(api)
    assert entry.detail["basis"] == "credential-scope" and entry.actor == "user:kiki-sato"


def test_media_token_replayed_on_another_camera_names_user_and_camera(media):
    api, token = media
    resp = api.client.get(f"/api/v1/cameras/{CAM_B}/clip.mp4",
                          params={**QUERY, "access_token": token})
    assert resp.status_code == 401
    entry = _last(api)
    assert (entry.actor, entry.action, entry.camera_id) == ("user:kiki-sato", "playback", CAM_B)
    assert entry.footage_start is not None and entry.detail["token_camera"] == CAM_A
