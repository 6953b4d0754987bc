"""One database, many services: recording, `serve` with its background discovery, and 50
parallel sign-ins and API calls share one SQLite file for a bounded time with 0 errors, and
every sign-in attempt is audited.

Found before: about 1 in 4 browser sign-ins failed with HTTP 500 "database is locked" while
recording (a deferred read-then-write transaction), with no audit entry for the attempt;
the first discovery round inside serve failed the same way. CAMERAHUB_TEST_BUSY_S sets how
long the load runs: 20 s in `make test` (which must stay under 8 minutes; the lock errors
above showed within seconds, and the load takes all the CPU it is given), 120 s or more for
a longer check (`CAMERAHUB_TEST_BUSY_S=120 pytest tests/reliability`).
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import uvicorn
import yaml
from sqlalchemy import func, select

from camerahub.api import Settings, create_app
from camerahub.authz import accounts
from camerahub.authz.passwords import FAST_TEST_PARAMS, Passwords
from camerahub.composition import Tuning, build_recorder, build_services
from camerahub.config import parse_config
from camerahub.config.runtime import Runtime
from camerahub.db import models as m
from camerahub.db.engine import inventory_write, open_database
from camerahub.deploy import apply_plan, plan_changes
from camerahub.recorder import RecorderOptions
from camerahub.storage import RetryPolicy
from camerahub.video.segmenter import Backoff
from tests.support.deployment import SECRET
from tests.support.net import free_port
from tests.support.recorder import deployment
from tests.support.simulators import simulator_fixture
from tests.support.wait import wait_until

SUBNET = 231  # 127.W.231.x / 127.W.232.x: this folder's own cameras
PASSWORD = "Kuyakusho-Busy-2026!"
USERS = ("kiki", "kanri")
BUSY_S = float(os.environ.get("CAMERAHUB_TEST_BUSY_S", "20"))
CLIENTS = 50

sim = simulator_fixture(SUBNET, cameras=2, hq=1)


def _config(sim, tmp_path) -> dict:
    data = deployment(sim, {"backend": "file"}, tmp_path, segment_seconds=2)
    for site in data["sites"]:
        site["discovery"] = {"mode": "manual", "interval_s": 10}
    data["users"] = [
        {"id": "kiki", "name": "危機 管理", "role": "crisis-management"},
        {"id": "kanri", "name": "統括 管理", "role": "division-manager", "scope": "koseki"}]
    return data


@pytest.fixture
def busy_site(sim, tmp_path, monkeypatch):
    """The recorder and serve (with background jobs) over one SQLite file, on uvicorn."""
    monkeypatch.setenv("CAMERAHUB_CAMERA_PASSWORD", "admin")
    cfg = parse_config(yaml.safe_dump(_config(sim, tmp_path), allow_unicode=True), "busy")
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    _, sessions = open_database(url)
    with inventory_write(sessions) as s:
        apply_plan(s, plan_changes(s, cfg), "x", "test")
        for user in USERS:
            accounts.set_password(s, Passwords(FAST_TEST_PARAMS), cfg.auth, user, PASSWORD)
    runtime = Runtime(tmp_path / "busy.yaml", tmp_path / "data", url)
    services = build_services(cfg, runtime, Tuning(password_hashing=FAST_TEST_PARAMS),
                              background=True)
    recorder = build_recorder(services, options=RecorderOptions(
        segment_seconds=2, read_timeout_s=5, upload_workers=2,
        backoff=Backoff(initial_s=0.5, max_s=2), retry=RetryPolicy(max_s=2)))
    app = create_app(Settings(config=cfg, secret_key=SECRET), services)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    recorder.start()
    services.start()
    thread.start()
    wait_until(lambda: server.started, 120, "uvicorn started")
    try:
        yield f"http://127.0.0.1:{port}", services.sessions
    finally:
        server.should_exit = True
        thread.join(30)
        recorder.stop()
        services.close()


def _one_client(base: str, n: int, deadline: float) -> Counter:
    """Sign in (sometimes with a wrong password) and call the API until the deadline."""
    seen: Counter = Counter()
    user = USERS[n % 2]
    with httpx.Client(base_url=base, timeout=60) as client:
        while time.monotonic() < deadline:
            try:
                _round(client, user, seen, n)
            except httpx.TransportError as exc:  # a server error that broke the connection
                seen[f"transport {type(exc).__name__} 5xx"] += 1
    return seen


def _round(client: httpx.Client, user: str, seen: Counter, n: int) -> None:
    """One sign-in (every 7th with a wrong password, the first one of every 7th client, so
    some are wrong however few rounds a loaded machine allows) and, if it worked, three API
    calls."""
    wrong = (seen["attempts"] + n) % 7 == 0
    seen["attempts"] += 1
    resp = client.post("/api/v1/auth/token", data={
        "username": user, "password": "wrong-" + PASSWORD if wrong else PASSWORD})
    seen[f"login {resp.status_code}"] += 1
    if resp.status_code == 200:
        auth = {"Authorization": f"Bearer {resp.json()['access_token']}"}
        for path in ("/api/v1/cameras", "/api/v1/auth/me", "/api/v1/cameras/cam-a"):
            seen[f"api {client.get(path, headers=auth).status_code}"] += 1


def test_recording_serve_and_50_clients_share_sqlite_without_errors(busy_site):
    base, sessions = busy_site
    wait_until(lambda: _count(sessions, m.Segment) >= 2, 120, "first segments recorded")
    deadline = time.monotonic() + BUSY_S
    with ThreadPoolExecutor(CLIENTS) as pool:
        totals = sum((f.result() for f in [pool.submit(_one_client, base, n, deadline)
                                           for n in range(CLIENTS)]), Counter())
    errors = {k: v for k, v in totals.items() if k.split()[-1].startswith("5")}
    assert not errors, totals
    assert totals["login 200"] and totals["login 401"]
    with sessions() as s:
        logins = s.scalar(select(func.count()).select_from(m.AuditEntry)
                          .where(m.AuditEntry.action == "auth.login"))
        rounds = s.scalar(select(func.count()).select_from(m.CameraState)
                          .where(m.CameraState.last_seen.is_not(None)))
    assert logins == totals["attempts"]  # every attempt audited, failed ones too
    assert rounds >= 1  # background discovery stored its rounds meanwhile
    assert _count(sessions, m.Segment) > 2  # and recording went on


def _count(sessions, model) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0
