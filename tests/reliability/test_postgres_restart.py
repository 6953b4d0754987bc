"""PostgreSQL restarted while recording and serving: no footage lost, service back within 30 s.

The test starts a PostgreSQL server of its own (tests.support.pgserver: initdb and pg_ctl on
a free loopback port; the machine's shared server is never touched), records two cameras
and serves the API (with background jobs) on it, and restarts the server with `pg_ctl -m
fast` (every connection cut) while clients keep calling the API. Within 30 s of the server
being back the API answers again and new segments are indexed; what was recorded meanwhile
waits in the spool and is indexed afterwards: every object stored, indexed and decodable,
every second of each camera footage or a gap.
"""

from __future__ import annotations

import threading
import time

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
from camerahub.db.types import utcnow
from camerahub.deploy import apply_plan, plan_changes
from camerahub.storage import FileStore
from tests.reliability.conftest import FAST
from tests.support.deployment import SECRET
from tests.support.integrity import check_footage, coverage
from tests.support.net import free_port
from tests.support.pgserver import PgServer
from tests.support.recorder import deployment
from tests.support.simulators import simulator_fixture
from tests.support.wait import wait_until

SUBNET = 249  # 127.W.249.x / 127.W.250.x
PASSWORD = "Kuyakusho-Restart-2026!"
RECOVERY_S = 30

sim = simulator_fixture(SUBNET, cameras=2, hq=1, main_size="640x360")


@pytest.fixture
def own_postgres():
    """A PostgreSQL server of this test's own, removed afterwards."""
    if why := PgServer.unavailable():
        pytest.skip(why)
    server = PgServer().init()
    server.start()
    try:
        yield server
    finally:
        server.remove()


def _count(sessions, model) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_postgres_restart_loses_nothing_and_recovers_within_30_s(sim, own_postgres, tmp_path,
                                                                monkeypatch):
    monkeypatch.setenv("CAMERAHUB_CAMERA_PASSWORD", "admin")
    data = deployment(sim, {"backend": "file", "file": {"path": str(tmp_path / "store")}},
                      tmp_path)
    for site in data["sites"]:
        site["discovery"] = {"mode": "manual", "interval_s": 10}
    data["users"] = [{"id": "kiki", "name": "危機 管理", "role": "crisis-management"}]
    cfg = parse_config(yaml.safe_dump(data, allow_unicode=True), "pg.yaml")
    url = own_postgres.url
    _, sessions = open_database(url)
    with inventory_write(sessions) as s:
        apply_plan(s, plan_changes(s, cfg), "x", "test")
        accounts.set_password(s, Passwords(FAST_TEST_PARAMS), cfg.auth, "kiki", PASSWORD)
    runtime = Runtime(tmp_path / "pg.yaml", tmp_path / "data", url)
    services = build_services(cfg, runtime, Tuning(password_hashing=FAST_TEST_PARAMS),
                              background=True)
    recorder = build_recorder(services, options=FAST)
    app = create_app(Settings(config=cfg, secret_key=SECRET), services)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(),
                                           log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    recorder.start()
    services.start()
    thread.start()
    statuses: list[tuple[float, int]] = []
    stop = threading.Event()
    try:
        wait_until(lambda: server.started, 120, "uvicorn started")
        base = f"http://127.0.0.1:{server.config.port}"
        with httpx.Client(base_url=base, timeout=30) as client:
            token = client.post("/api/v1/auth/token", data={
                "username": "kiki", "password": PASSWORD}).json()["access_token"]
        wait_until(lambda: _count(sessions, m.Segment) >= 4, 120, "first segments indexed")

        def poll():
            with httpx.Client(base_url=base, timeout=30,
                              headers={"Authorization": f"Bearer {token}"}) as client:
                while not stop.wait(0.5):
                    try:
                        code = client.get("/api/v1/cameras").status_code
                    except httpx.TransportError:
                        code = 0
                    statuses.append((time.monotonic(), code))
        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        own_postgres.restart()
        back, back_wall = time.monotonic(), utcnow()

        def indexed_after_restart():
            """a segment recorded after the restart is indexed"""
            with sessions() as s:
                return s.scalar(select(func.count()).select_from(m.Segment)
                                .where(m.Segment.start >= back_wall))
        wait_until(indexed_after_restart, RECOVERY_S, "new segments indexed after the restart")
        wait_until(lambda: any(t > back and code == 200 for t, code in statuses), RECOVERY_S,
                   "the API answers after the restart")
        indexed_in_s = time.monotonic() - back
        wait_until(lambda: not recorder.spool.ready_items(), 120, "the spool drained")
    finally:
        stop.set()
        server.should_exit = True
        thread.join(30)
        recorder.stop()
        services.close()
    assert indexed_in_s <= RECOVERY_S
    # once back, the API kept answering
    assert all(code == 200 for t, code in statuses if t > back + RECOVERY_S)
    report = check_footage(FileStore(tmp_path / "store"), sessions, ffmpeg_every=5)
    assert report, report.problems[:20]
    for cam in ("cam-a", "cam-b"):
        mine = [x for x in report.segments if x.camera_id == cam]
        cov = coverage(sessions, cam, min(x.start for x in mine), max(x.end for x in mine))
        assert cov["unexplained_s"] < 0.5, (cam, cov)
