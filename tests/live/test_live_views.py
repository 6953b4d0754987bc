"""Saved live walls: per user, validated, replaced by name, never another user's."""

from __future__ import annotations

import httpx
import pytest

from tests.support.live import token


@pytest.fixture(scope="module")
def base(live_app):
    return live_app[0].url


def auth(base, user):
    return {"Authorization": f"Bearer {token(base, user)}"}


def test_saved_views_are_per_user_and_replaced_by_name(base):
    sato, suzuki = auth(base, "kiki-sato"), auth(base, "kiki-suzuki")
    url = f"{base}/api/v1/live-views"
    body = {"layout": 16, "cycle_s": 20, "filters": {"site": "hq", "floor": "1", "room": ""}}
    resp = httpx.put(f"{url}/本庁舎1階", json=body, headers=sato)
    assert resp.status_code == 200, resp.text
    assert resp.json()["layout"] == 16 and resp.json()["updated_at"].endswith("Z")
    resp = httpx.put(f"{url}/本庁舎1階", json={**body, "layout": 9}, headers=sato)
    assert resp.status_code == 200
    views = httpx.get(url, headers=sato).json()
    assert [(v["name"], v["layout"], v["cycle_s"]) for v in views] == [("本庁舎1階", 9, 20)]
    assert httpx.get(url, headers=suzuki).json() == []  # another user's views stay theirs
    assert httpx.delete(f"{url}/本庁舎1階", headers=suzuki).status_code == 404
    assert httpx.delete(f"{url}/本庁舎1階", headers=sato).status_code == 204
    assert httpx.get(url, headers=sato).json() == []


@pytest.mark.parametrize("body", [
    {"layout": 7},
    {"layout": 4, "cycle_s": -1},
    {"layout": 4, "cycle_s": 10**6},
    {"layout": 4, "extra": True},
    [],
])
def test_bad_views_are_refused_whole(base, body):
    headers = auth(base, "kiki-sato")
    resp = httpx.put(f"{base}/api/v1/live-views/x", json=body, headers=headers)
    assert resp.status_code == 422, resp.text
    assert httpx.get(f"{base}/api/v1/live-views", headers=headers).json() == []


@pytest.mark.parametrize(("name", "filters"), [
    ("x", {"site": "a\x00b"}), ("x", {"floor": "1;"}), ("x", {"floor": "1\n"}),
    (".hidden", {}), (" x", {}), ("a%5Cb", {}),
])
def test_bad_names_and_filters_are_a_400_and_nothing_is_saved(base, name, filters):
    headers = auth(base, "kiki-sato")
    resp = httpx.put(f"{base}/api/v1/live-views/{name}", headers=headers,
                     json={"layout": 4, "filters": filters})
    assert resp.status_code == 400, resp.text
    assert httpx.get(f"{base}/api/v1/live-views", headers=headers).json() == []


def test_views_need_a_signed_in_user(base):
    assert httpx.get(f"{base}/api/v1/live-views").status_code == 401
    resp = httpx.put(f"{base}/api/v1/live-views/{'x' * 61}", json={"layout": 4},
                     headers=auth(base, "kiki-sato"))
    assert resp.status_code == 422


@pytest.mark.parametrize("body", [
    {"layout": "4"}, {"layout": 4, "cycle_s": "5"}, {"layout": 4, "cycle_s": True},
    {"layout": 4, "cycle_s": 5.5},
    {"layout": 4, "filters": {"floor": 1}},
])
def test_values_of_the_wrong_type_are_not_coerced(base, body):
    resp = httpx.put(f"{base}/api/v1/live-views/x", json=body, headers=auth(base, "kiki-sato"))
    assert resp.status_code == 422, resp.text
