"""Background jobs of `camerahub serve`: periodic discovery keeps camera state."""

from __future__ import annotations

from camerahub.composition import open_store
from camerahub.db import models as m
from camerahub.jobs import BackgroundJobs
from tests.support.recorder import deployment
from tests.support.simulators import running_simulator
from tests.support.wait import wait_for


def test_discovery_marks_cameras_online_then_offline(make_env, tmp_path):
    with running_simulator(cameras=2, hq=1, subnet=67) as sim:  # 127.W.67.x: not the folder's 61
        data = deployment(sim, {"backend": "file", "file": {"path": str(tmp_path / "s")}},
                          tmp_path)
        targets = [f"{c.address}" for c in sim.cameras]
        for site in data["sites"]:
            site["discovery"] = {"mode": "unicast", "targets": targets, "interval_s": 10}
        cfg, runtime, sessions = make_env(data)
        jobs = BackgroundJobs(cfg, sessions, open_store(cfg, runtime))
        jobs.start()
        try:
            def states():
                with sessions() as s:
                    return {r.camera_id: r.status for r in s.query(m.CameraState)}
            wait_for(lambda: states() == {"cam-a": "online", "cam-b": "online"}, timeout=60)
            sim.set_faults(sim.cameras[0].address, offline=True)
            wait_for(lambda: states().get("cam-a") == "offline", timeout=60)
        finally:
            jobs.stop()
        assert not jobs.thread.is_alive()
