"""The ops console in Chromium over 100 simulated cameras (the Nakano layout): ops signs in,
sees every camera's state, one camera is taken offline through the simulator's control
endpoint, the console shows it offline, the notification area shows the alarm, and the
matching MQTT event arrives from the real Mosquitto.

Cost: the 100 cameras are interrogated once (one discovery round) for their state; only
the camera taken offline is recorded (2 s segments), so the test stays cheap on two cores.
"""

from __future__ import annotations

import pytest
import yaml

from camerahub.composition import build_recorder
from camerahub.discovery import DiscoveryService
from camerahub.recorder import RecorderOptions
from camerahub.video.segmenter import Backoff
from tests.support.deployment import deploy_text, make_app, set_all_passwords
from tests.support.devices import CAMERA_PASSWORD
from tests.support.live import serving
from tests.support.mqtt import clear_retained, subscribed, unique_prefix
from tests.support.simulators import nakano_on, simulator_process_fixture
from tests.support.wait import wait_for

pytest.importorskip("selenium")

from tests.ui.test_ui import css, shot, sign_in, text, wait  # noqa: E402

SUBNET = 117  # 127.W.117.x HQ (55 cameras), 127.W.118.x facilities (45)
TARGET = "hq-1f-koseki-01"
OFFLINE_AFTER_S = 5  # alarms.camera_offline_s of this deployment
sim100 = simulator_process_fixture(SUBNET, "--cameras", "100", "--hq", "55",
                                   "--username", "admin", "--password", CAMERA_PASSWORD)


@pytest.fixture(scope="module")
def console(sim100, tmp_path_factory):
    work = tmp_path_factory.mktemp("ops-console")
    prefix = unique_prefix()
    data = nakano_on(sim100)
    for cam in data["cameras"]:  # only the camera taken offline is recorded
        cam["recording"] = {"enabled": cam["id"] == TARGET}
    data["incidents"]["mqtt"] = {"host": "127.0.0.1", "port": 1883, "topic_prefix": prefix}
    data["alarms"] = {"interval_s": 1, "camera_offline_s": OFFLINE_AFTER_S,
                      "recording_stalled_s": 600, "segment_late_s": 60}
    address = next(c["address"] for c in data["cameras"] if c["id"] == TARGET)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CAMERAHUB_CAMERA_PASSWORD", CAMERA_PASSWORD)
        url = f"sqlite:///{work / 'db.sqlite'}"
        cfg = deploy_text(url, yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
        set_all_passwords(url, cfg)
        app = make_app(url, cfg, data_dir=work)
        services = app.state.camerahub.services
        discovery = DiscoveryService(cfg, services.sessions)
        try:
            run = discovery.run_once()
        finally:
            discovery.close()
        assert run.counts().get("online", 0) == 100, run.counts()
        recorder = build_recorder(services, [TARGET], RecorderOptions(
            segment_seconds=2, read_timeout_s=3, heartbeat_s=1, supervise_s=1,
            backoff=Backoff(initial_s=0.5, max_s=2)))
        recorder.start()
        services.alarms.start()
        try:
            with serving(app) as server:
                yield server, prefix, address
        finally:
            services.alarms.stop()
            recorder.stop()
            sim100.heal(address)


def _row_health(driver, camera):
    rows = css(driver, f"#ops-cameras tr[data-camera='{camera}']")
    return rows[0].get_attribute("data-health") if rows else None


def test_ops_console_shows_100_cameras_and_one_going_offline(browser, console, sim100, shots):
    server, prefix, address = console
    services = server.app.state.camerahub.services
    wait_for(lambda: _recording(server), 120)
    sign_in(browser, server.url, "ops-takahashi")
    wait(browser, lambda d: d.current_url.endswith("#/ops"))
    wait(browser, lambda d: len(css(d, "#ops-cameras tr[data-camera]")) == 100)
    wait(browser, lambda d: _row_health(d, TARGET) == "recording", 90)
    online = css(browser, "#ops-cameras [data-online='online']")
    assert len(online) == 100
    wait(browser, lambda d: "中野区役所 本庁舎" in text(d, "#ops-cameras"))
    shot(browser, shots, "ops-console-all-recording")

    with subscribed(f"{prefix}/events/camera_offline") as sub:
        sim100.fault(address, offline=True)
        _, event, _ = sub.wait_for(lambda t, p, r: p and p["camera"] == TARGET
                                   and p["event"] == "raised", timeout=120)
    assert event["kind"] == "camera_offline" and event["severity"] == "high"
    # the console (refreshed every 10 s) shows it offline, with the alarm in the notices
    wait(browser, lambda d: _row_health(d, TARGET) == "offline", 60)
    wait(browser, lambda d: "オフライン" in text(d, f"#not-recording tr[data-camera='{TARGET}']"),
         60)
    wait(browser, lambda d: css(d, f"#notices li[data-subject='{TARGET}']"), 60)
    wait(browser, lambda d: "カメラがオフライン" in text(d, "#notices"))
    shot(browser, shots, "ops-console-camera-offline")
    clear_retained(prefix, [f"{prefix}/alarms/camera_offline/{TARGET}"]
                   + [f"{prefix}/cameras/{c}/state" for c in services.config.camera_by_id])


def _recording(server) -> bool:
    from camerahub.inventory import camera_states

    with server.app.state.camerahub.sessions() as s:
        return camera_states(s, {TARGET})[TARGET]["recording"]
