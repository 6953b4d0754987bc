"""Support for recorder tests: a deployment for two simulated cameras and a storage section."""

from __future__ import annotations

from sqlalchemy import select

from camerahub.db import models as m
from camerahub.recorder import RecorderOptions
from camerahub.storage import RetryPolicy
from camerahub.video.segmenter import Backoff

# Short segments, quick reconnects and retries, and a refused camera retried every second:
# what the TLS recorder tests wait on
FAST = RecorderOptions(segment_seconds=2, read_timeout_s=4, upload_workers=2,
                       backoff=Backoff(initial_s=0.5, max_s=2), retry=RetryPolicy(max_s=2),
                       supervise_s=1.0, auth_retry_s=1.0)


def deployment(sim, storage: dict, tmp_path, **recorder) -> dict:
    """A config for the simulator's cameras, with the given storage section."""
    hq, fac = sim.cameras[0], sim.cameras[1]
    return {
        "sites": [{"id": "hq", "name": "本庁舎", "kind": "headquarters"},
                  {"id": "fac", "name": "施設", "kind": "facility"}],
        "org": {"departments": [{"id": "kumin", "name": "区民部", "divisions": [
            {"id": "koseki", "name": "戸籍住民分野", "rooms": [
                {"id": "room-a", "name": "A", "site": "hq"},
                {"id": "room-b", "name": "B", "site": "fac"}]}]}]},
        "credentials": [{"id": "cam", "username": "admin",
                         "password_env": "CAMERAHUB_CAMERA_PASSWORD"}],
        "defaults": {"port": sim.options.http_port, "credential": "cam"},
        "cameras": [
            {"id": "cam-a", "name": "A", "site": "hq", "room": "room-a", "address": hq.address},
            {"id": "cam-b", "name": "B", "site": "fac", "room": "room-b", "address": fac.address}],
        "storage": storage,
        "recorder": {"segment_seconds": 4, "read_timeout_s": 5, "reconnect_min_s": 0.5,
                     "reconnect_max_s": 2, **recorder},
        "data_dir": str(tmp_path / "data"),
    }


def fleet(sim, storage: dict, tmp_path, **recorder) -> dict:
    """A config recording every camera of the simulator (`cam-01`, ...), two sites."""
    data = deployment(sim, storage, tmp_path, **recorder)
    rooms = data["org"]["departments"][0]["divisions"][0]["rooms"]
    data["cameras"] = [
        {"id": f"cam-{n:02d}", "name": f"C{n}", "site": "hq" if n % 2 else "fac",
         "room": "room-a" if n % 2 else "room-b", "address": cam.address}
        for n, cam in enumerate(sim.cameras, start=1)]
    assert {r["id"] for r in rooms} == {"room-a", "room-b"}
    return data


def refused_twice(sessions, cameras: tuple[str, ...] = ("cam-a", "cam-b")) -> bool:
    """Each camera's certificate refused at least twice: its first refusal and a slow
    retry's (`recorder.untrusted_certificate` events)."""
    with sessions() as s:
        events = s.scalars(select(m.Event).where(
            m.Event.kind == "recorder.untrusted_certificate")).all()
    return all(sum(e.camera_id == cam for e in events) >= 2 for cam in cameras)


def sessions_started(sim) -> int:
    """RTSP sessions the simulator has started streaming to, over all its cameras."""
    return sum(len(log["sessions"]) for cam in sim.cameras
               for log in sim.sent(cam.camera_id).values())
