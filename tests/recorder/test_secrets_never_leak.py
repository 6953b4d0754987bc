"""No camera password reaches a log line, FFmpeg's stderr, an event, a gap or a camera state.

Five cameras misbehave while the real recorder (built by the composition root) records
them: one names a stream URI on another host, one refuses our credentials, one names its own
host on a port where nothing listens (FFmpeg's error then repeats the URL it was given,
login included), one drops its RTSP sessions, one is offline. Every captured log record,
everything written to the process's stderr (FFmpeg prints there) and every row the recorder
wrote is scanned for the password, in plain and in percent-encoded form.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import quote

import pytest
import yaml
from sqlalchemy import select

from camerahub import redact
from camerahub.composition import build_recorder, build_services
from camerahub.config import parse_config
from camerahub.config.runtime import Runtime
from camerahub.db import models as m
from camerahub.db.engine import inventory_write
from camerahub.deploy import apply_plan, plan_changes
from camerahub.recorder import RecorderOptions
from camerahub.storage import RetryPolicy
from camerahub.video.segmenter import Backoff

testing = pytest.importorskip("simulator.testing")

SUBNET = 107  # 127.0.107.x: this file's own cameras
PASSWORD = "Leak/Canary:Pa55@word"
FORMS = (PASSWORD, quote(PASSWORD, safe=""), quote(PASSWORD))
FAST = RecorderOptions(segment_seconds=2, read_timeout_s=3, upload_workers=1,
                       backoff=Backoff(initial_s=0.3, max_s=1), retry=RetryPolicy(max_s=1))


@pytest.fixture(scope="module")
def sim():
    with testing.running_simulator(cameras=5, hq=5, subnet=SUBNET, password=PASSWORD) as s:
        yield s


@pytest.fixture
def redacting():
    """The redaction layer, as `camerahub record` and `serve` install it."""
    before = logging.getLogRecordFactory()
    redact.install()
    yield
    logging.setLogRecordFactory(before)


def deployment(sim, tmp_path) -> dict:
    rooms = [{"id": "r", "name": "室", "site": "hq"}]
    cams = [{"id": f"cam-{i}", "name": f"カメラ{i}", "site": "hq", "room": "r",
             "address": c.address} for i, c in enumerate(sim.cameras)]
    return {
        "sites": [{"id": "hq", "name": "本庁舎", "kind": "headquarters"}],
        "org": {"departments": [{"id": "d", "name": "部", "divisions": [
            {"id": "v", "name": "分野", "rooms": rooms}]}]},
        "credentials": [{"id": "c", "username": "admin",
                         "password_env": "CAMERAHUB_TEST_LEAK_PW"}],
        "defaults": {"port": sim.options.http_port, "credential": "c"},
        "cameras": cams, "storage": {"backend": "file"},
        "data_dir": str(tmp_path / "data"),
    }


def test_no_secret_in_logs_stderr_events_gaps_or_state(sim, tmp_path, monkeypatch, caplog,
                                                       capfd, redacting):
    monkeypatch.setenv("CAMERAHUB_TEST_LEAK_PW", PASSWORD)
    hostile, refusing, wrong_port, dropping, offline = (c.camera_id for c in sim.cameras)
    sim.set_faults(hostile, stream_uri="rtsp://127.0.107.250:554/main")
    sim.set_faults(refusing, reject_auth=True)
    sim.set_faults(wrong_port, stream_uri="rtsp://{address}:9/main")
    sim.set_faults(dropping, drop_after=1)
    sim.set_faults(offline, offline=True)
    try:
        cfg = parse_config(yaml.safe_dump(deployment(sim, tmp_path), allow_unicode=True), "t")
        runtime = Runtime(tmp_path / "t.yaml", tmp_path / "data",
                          f"sqlite:///{tmp_path / 'db.sqlite'}")
        caplog.set_level(logging.DEBUG)
        services = build_services(cfg, runtime)
        with inventory_write(services.sessions) as s:
            apply_plan(s, plan_changes(s, cfg), "x", "test")
        recorder = build_recorder(services, options=FAST)
        recorder.start()
        try:
            _wait_until_every_camera_failed(services.sessions)
        finally:
            recorder.stop()
            services.close()
    finally:
        for cam in sim.cameras:
            sim.clear_faults(cam.camera_id)
    captured = capfd.readouterr()
    texts = {"log": caplog.text, "stdout": captured.out, "stderr": captured.err,
             **_rows_as_text(services.sessions)}
    for where, text in texts.items():
        for form in FORMS:
            assert form not in text, f"the camera password appears in {where}"
    assert "camera.untrusted_uri" in texts["events"]


def _wait_until_every_camera_failed(sessions, timeout: float = 120.0) -> None:
    """Until each misbehaving camera has left a gap or an event (bounded)."""
    deadline = time.monotonic() + timeout
    wanted = {"cam-0", "cam-1", "cam-2", "cam-3", "cam-4"}
    while time.monotonic() < deadline:
        with sessions() as s:
            seen = set(s.scalars(select(m.Gap.camera_id))) | set(
                s.scalars(select(m.Event.camera_id)))
        if wanted <= seen:
            return
        time.sleep(0.5)
    raise AssertionError(f"cameras without a gap or event after {timeout} s: {wanted - seen}")


def _rows_as_text(sessions) -> dict[str, str]:
    """Every event, gap and camera state row, as text to scan."""
    with sessions() as s:
        return {
            "events": "\n".join(f"{e.kind} {e.message} {e.data}" for e in s.scalars(
                select(m.Event))),
            "gaps": "\n".join(f"{g.cause} {g.detail}" for g in s.scalars(select(m.Gap))),
            "states": "\n".join(repr(vars(c)) for c in s.scalars(select(m.CameraState))),
        }
