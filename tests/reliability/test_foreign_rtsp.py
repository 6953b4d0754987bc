"""The same checks for footage from an RTSP server the project did not write.

GStreamer's gst-rtsp-server (Debian's gstreamer1.0-rtsp, gir1.2-gst-rtsp-server-1.0,
python3-gi, x264enc from gstreamer1.0-plugins-ugly) serves an H.264 test pattern on
127.0.0.1, run by the system python in a subprocess (tests/support/gst_rtsp_server.py), so
the recorder is not tuned to its own simulator. The server is stopped once mid-way and
started again: the camera's time is footage or a gap with its cause, and every stored
object is hashed and decoded to its last frame by PyAV and by ffmpeg.
"""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from camerahub.db import models as m
from camerahub.db.types import utcnow
from camerahub.recorder import Recorder
from camerahub.storage import FileStore
from tests.reliability.conftest import FAST
from tests.support.integrity import check_footage, coverage
from tests.support.net import free_port
from tests.support.wait import wait_for

SYSTEM_PYTHON = "/usr/bin/python3"
SERVER = Path(__file__).resolve().parents[1] / "support" / "gst_rtsp_server.py"


def _gst_missing() -> str | None:
    """Why GStreamer's RTSP server cannot run here, or None."""
    probe = ("import gi; gi.require_version('Gst', '1.0'); "
             "gi.require_version('GstRtspServer', '1.0'); "
             "from gi.repository import Gst, GstRtspServer; Gst.init(None); "
             "missing = [e for e in ('videotestsrc', 'x264enc', 'rtph264pay', 'clockoverlay') "
             "if Gst.ElementFactory.find(e) is None]; print(' '.join(missing))")
    try:
        done = subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, text=True,
                              timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"no system python with GStreamer ({exc})"
    if done.returncode:
        return ("GStreamer's RTSP server is not installed (apt-get install gstreamer1.0-rtsp "
                "gir1.2-gst-rtsp-server-1.0 python3-gi gstreamer1.0-plugins-ugly): "
                + done.stderr.strip().splitlines()[-1][:200])
    if done.stdout.strip():
        return f"GStreamer elements missing: {done.stdout.strip()}"
    return None


class GstServer:
    """The GStreamer RTSP server subprocess on a fixed loopback port (restartable)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/test"

    def start(self) -> None:
        self.proc = subprocess.Popen([SYSTEM_PYTHON, str(SERVER), str(self.port)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            self.stop()
            raise RuntimeError(f"GStreamer RTSP server did not start: {line!r}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)


@pytest.fixture
def gst_server():
    if why := _gst_missing():
        pytest.skip(why)
    server = GstServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _config(tmp_path) -> dict:
    return {
        "sites": [{"id": "hq", "name": "本庁舎", "kind": "headquarters"}],
        "org": {"departments": [{"id": "kumin", "name": "区民部", "divisions": [
            {"id": "koseki", "name": "戸籍住民分野", "rooms": [
                {"id": "room-a", "name": "A", "site": "hq"}]}]}]},
        "credentials": [{"id": "cam", "username": "admin",
                         "password_env": "CAMERAHUB_CAMERA_PASSWORD"}],
        "defaults": {"credential": "cam"},
        "cameras": [{"id": "gst-1", "name": "G", "site": "hq", "room": "room-a",
                     "address": "127.0.0.1"}],
        "storage": {"backend": "file", "file": {"path": str(tmp_path / "store")}},
        "recorder": {"segment_seconds": 4, "read_timeout_s": 4},
        "data_dir": str(tmp_path / "data"),
    }


def _segments(sessions, since=None) -> list[m.Segment]:
    with sessions() as s:
        stmt = select(m.Segment)
        if since is not None:
            stmt = stmt.where(m.Segment.start >= since)
        return list(s.scalars(stmt))


def test_footage_from_gstreamer_rtsp_server_passes_the_same_checks(gst_server, make_env,
                                                                   tmp_path):
    cfg, runtime, sessions = make_env(_config(tmp_path))
    store = FileStore(tmp_path / "store")
    rec = Recorder(cfg, runtime, sessions, store, lambda cam: gst_server.url, options=FAST)
    rec.start()
    try:
        wait_for(lambda: len(_segments(sessions)) >= 3, timeout=120)
        gst_server.stop()
        wait_for(lambda: [g for g in _gaps(sessions) if g.end is None], timeout=60)
        gst_server.start()
        back = utcnow()
        wait_for(lambda: len(_segments(sessions, back)) >= 3, timeout=120)
    finally:
        rec.stop()
    report = check_footage(store, sessions, ffmpeg_every=1)
    assert report, report.problems[:20]
    segs = report.segments
    cov = coverage(sessions, "gst-1", min(x.start for x in segs), max(x.end for x in segs))
    assert cov["unexplained_s"] < 0.5 and cov["overlap_s"] < 0.5, cov
    gaps = _gaps(sessions)
    assert [g.cause for g in gaps if g.cause != "recorder_down"] == ["camera_dropped"], gaps
    assert all(g.end is not None for g in gaps)
    # full segments hold as much footage as their wall-clock span (15 fps)
    for seg in segs:
        if seg.duration_ms >= 3900:
            assert abs(seg.duration_ms - int(store.head(seg.key).metadata["frames"]) * 1000 / 15
                       ) <= 200, seg.key
    assert max(x.end for x in segs) - min(x.start for x in segs) < timedelta(minutes=5)


def _gaps(sessions) -> list[m.Gap]:
    with sessions() as s:
        return list(s.scalars(select(m.Gap)))
