"""Deployment files with device settings, pointed at simulated cameras, and their outcomes."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.support.paths import EXAMPLES
from tests.support.simulators import SimProcess, nakano_on

CAMERA_PASSWORD = "Sim-Secret-91"  # noqa: S105 - the simulators' test password


def nakano_for(sim: SimProcess, path: Path) -> Path:
    """The Nakano example moved onto a simulator's addresses and port, written to path."""
    data = nakano_on(sim)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def small_deployment(sim, path: Path, devices: dict, cameras: int = 4,
                     camera_device: dict | None = None) -> Path:
    """A one-room deployment of the simulator's first `cameras` HQ cameras."""
    data = yaml.safe_load((EXAMPLES / "minimal.yaml").read_text(encoding="utf-8"))
    data["defaults"]["port"] = sim.options.http_port
    first = sim.cameras[0].address
    data["sites"][0]["discovery"] = {"mode": "unicast",
                                     "targets": [f"{first}-{sim.cameras[cameras - 1].address}"]}
    data["cameras"] = [{"id": f"cam-{i + 1}", "name": f"カメラ{i + 1}", "site": "hq",
                        "room": "hq-1f-koseki", "address": sim.cameras[i].address}
                       for i in range(cameras)]
    if camera_device:
        data["cameras"][0]["device"] = camera_device
    data["devices"] = devices
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def devices_json(out: str) -> dict:
    """The `devices` part of `deploy ... --json` output."""
    return json.loads(out)["devices"]


def by_camera(devices: dict) -> dict[str, dict]:
    """Per-camera outcomes by camera id."""
    return {c["camera"]: c for c in devices["cameras"]}
