"""Concurrent audited requests on SQLite, and a manager's own incident, over real uvicorn."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import httpx
import pytest
import uvicorn

from camerahub import audit
from camerahub.db import models as m
from tests.support.deployment import PASSWORD, deploy_example, make_app, set_all_passwords
from tests.support.net import free_port
from tests.support.wait import wait_until

T0 = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The real app on SQLite, served by uvicorn on loopback."""
    url = f"sqlite:///{tmp_path_factory.mktemp('conc') / 'db.sqlite'}"
    cfg = deploy_example(url)
    set_all_passwords(url, cfg)
    app = make_app(url, cfg)
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    wait_until(lambda: srv.started, 120, "uvicorn started")
    yield f"http://127.0.0.1:{port}", app.state.camerahub.sessions
    srv.should_exit = True
    thread.join(30)


def _token(base: str, user: str) -> dict:
    resp = httpx.post(f"{base}/api/v1/auth/token", data={"username": user, "password": PASSWORD})
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def test_concurrent_audited_requests_all_succeed_on_sqlite(server):
    base, sessions = server
    headers = _token(base, "tokatsu-koseki")
    q = (f"start={quote(T0.isoformat())}&end={quote((T0 + timedelta(minutes=5)).isoformat())}"
         f"&reason={quote('同時アクセス試験')}")
    with sessions() as s:
        before = s.query(m.AuditEntry).count()

    def one(i: int) -> int:
        cam = f"hq-1f-koseki-0{i % 4 + 1}"
        return httpx.get(f"{base}/api/v1/cameras/{cam}/recordings?{q}", headers=headers,
                         timeout=60).status_code

    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(one, range(40)))
    assert codes == [200] * 40
    with sessions() as s:
        assert s.query(m.AuditEntry).count() == before + 40
        assert audit.verify(s).ok


def test_a_manager_sees_the_incident_they_open(server):
    base, _ = server
    headers = _token(base, "tokatsu-koseki")
    body = {"room_id": "hq-1f-koseki", "reason": "窓口で不審な操作があったとの申告",
            "window": {"start": T0.isoformat(), "end": (T0 + timedelta(minutes=10)).isoformat()}}
    resp = httpx.post(f"{base}/api/v1/incidents", json=body, headers=headers)
    assert resp.status_code == 201, resp.text
    assert resp.json()["room"] == "hq-1f-koseki" and resp.json()["holds"]
    other = httpx.post(f"{base}/api/v1/incidents", json={**body, "room_id": "hq-2f-kazei-a"},
                       headers=headers)
    assert other.status_code == 404  # a room outside their division does not exist for them
