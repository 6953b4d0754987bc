"""The Nakano example's device settings rolled out to 100 simulated cameras: plan shows the
differences, apply makes every camera match (read back), a second plan finds nothing."""

from __future__ import annotations

from tests.support.devices import CAMERA_PASSWORD, by_camera, devices_json, nakano_for
from tests.support.simulators import simulator_process_fixture

SUBNET = 91  # 127.W.91.x HQ, 127.W.92.x facilities

# A camerahub-sim process with the Nakano layout (55 HQ, 45 facility cameras)
sim100 = simulator_process_fixture(SUBNET, "--cameras", "100", "--hq", "55",
                                   "--username", "admin", "--password", CAMERA_PASSWORD)


def test_plan_apply_replan_on_100_cameras(sim100, cli, tmp_path):
    path = nakano_for(sim100, tmp_path / "nakano.yaml")
    code, out, err = cli("deploy", "plan", "-f", path, "--devices", "--json")
    assert code == 0, err
    plan = devices_json(out)
    assert plan["summary"]["change"] == 100 and plan["applied"] is False
    first = by_camera(plan)["hq-1f-koseki-01"]
    changed = {c["field"]: (c["current"], c["desired"]) for c in first["changes"]}
    assert changed["main.resolution"] == ("1280x720", "1920x1080")
    assert changed["main.gop"] == (15, 30) and changed["sub.gop"] == (10, 20)
    assert changed["hostname"] == ("hq-001", "hq-1f-koseki-01")
    assert changed["name"] == ("HQ_Camera_001", "1階 戸籍執務室 カメラ1")
    assert changed["timezone"] == ("UTC0", "JST-9") and changed["time_mode"][1] == "NTP"
    assert first["restarts"] == ["main", "sub"]
    katsudo = by_camera(plan)["katsudo-yayoi-jimu-01"]
    assert {c["field"]: c["desired"] for c in katsudo["changes"]}["main.fps"] == 10

    code, out, err = cli("deploy", "apply", "-f", path, "--devices", "--json")
    assert code == 0, err
    applied = devices_json(out)
    assert applied["summary"]["applied"] == 100 and applied["summary"]["failed"] == 0

    code, out, err = cli("deploy", "plan", "-f", path, "--devices")
    assert code == 0, err
    assert "Devices: 100 unchanged" in out and "~ device" not in out

    # the cameras themselves, as the simulator holds them
    cams = sim100.cameras()
    by_id = {c["id"]: c for c in cams}
    assert by_id["hq-001"]["hostname"] == "hq-1f-koseki-01"
    assert by_id["hq-001"]["name"] == "1階 戸籍執務室 カメラ1"
    assert by_id["hq-001"]["encoders"]["main"]["width"] == 1920
    assert all(c["timezone"] == "JST-9" and c["time_mode"] == "NTP" for c in cams)
    assert all(c["ntp"]["servers"] == ["ntp1.cctv.nakano.invalid", "ntp2.cctv.nakano.invalid"]
               for c in cams)
    assert all(c["encoders"]["main"]["gop"] == 30 and c["encoders"]["sub"]["gop"] == 20
               for c in cams)
