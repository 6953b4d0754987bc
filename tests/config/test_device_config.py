"""The `devices:` section as data: merge order camera > site > global, and its checks."""

from __future__ import annotations

import pytest
import yaml

from camerahub.config import ConfigError, parse_config
from tests.support.paths import EXAMPLES


def _config(devices: dict, camera_device: dict | None = None, second_site: bool = True):
    data = yaml.safe_load((EXAMPLES / "minimal.yaml").read_text(encoding="utf-8"))
    if second_site:
        data["sites"].append({"id": "annex", "name": "別館", "kind": "facility"})
        room = {"id": "annex-1f", "name": "別館 1階", "site": "annex", "floor": 1}
        data["org"]["departments"][0]["divisions"][0]["rooms"].append(room)
        data["cameras"][1].update(site="annex", room="annex-1f")
    if camera_device is not None:
        data["cameras"][0]["device"] = camera_device
    data["devices"] = devices
    return parse_config(yaml.safe_dump(data, allow_unicode=True), "d.yaml")


def test_camera_beats_site_beats_global_field_by_field():
    cfg = _config(
        {"defaults": {"encoders": {"main": {"resolution": "1280x720", "fps": 15, "gop": 30}},
                      "timezone": "JST-9", "hostname": "cam-{id}", "name": "{site}: {name}"},
         "sites": {"annex": {"encoders": {"main": {"fps": 10}}, "timezone": "UTC0"}}},
        camera_device={"encoders": {"main": {"gop": 60}, "sub": {"h264_profile": "High"}}})
    first, second = (cfg.desired_device(c) for c in cfg.cameras)
    main1 = next(e for e in first.encoders if e.profile == "main")
    assert (main1.size, main1.fps, main1.gop) == ((1280, 720), 15, 60)
    assert [e.profile for e in first.encoders] == ["main", "sub"]
    assert (first.timezone, first.hostname, first.name) == (
        "JST-9", "cam-hq-1f-koseki-01", "hq: 戸籍執務室 カメラ1")
    main2 = second.encoders[0]
    assert (main2.size, main2.fps, main2.gop, second.timezone) == ((1280, 720), 10, 30, "UTC0")
    assert first.ntp is None and cfg.manages_devices()


def test_nothing_set_means_nothing_managed():
    cfg = _config({})
    assert all(cfg.desired_device(c).empty() for c in cfg.cameras)
    assert not cfg.manages_devices()


@pytest.mark.parametrize(("devices", "path", "message"), [
    ({"defaults": {"hostname": "same"}}, "cameras[1].device.hostname", "also"),
    ({"defaults": {"name": "{name}" + "x" * 55}}, "cameras[0].device.name", "over 64"),
    ({"defaults": {"ntp": []}}, "devices.defaults.ntp", "at least 1"),
    ({"defaults": {"encoders": {"main": {"gop": 0}}}}, "devices.defaults.encoders.main.gop",
     "greater than or equal to 1"),
    ({"defaults": {"encoders": {"main": {"h264_profile": "Extended"}}}},
     "devices.defaults.encoders.main.h264_profile", "Baseline"),
])
def test_invalid_device_settings_name_their_path(devices, path, message):
    with pytest.raises(ConfigError) as caught:
        _config(devices)
    issue = next(i for i in caught.value.issues if i.path == path)
    assert message in issue.message and issue.line is not None
