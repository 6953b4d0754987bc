"""The spool's disk full: an alarm event, a `spool_full` gap, no corrupt segment, and
recording resumes when space returns.

The spool is a 1 MiB tmpfs mounted by the test (root with mount permission; skipped with the
reason otherwise). The S3 line is cut behind a TCP proxy so the spool fills up with footage
waiting for upload until the disk is full; then the line comes back, the backlog drains,
space returns and both cameras must record again. Every stored object is decoded and hashed.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from datetime import timedelta

import pytest
from sqlalchemy import select

from camerahub.composition import open_store
from camerahub.db import models as m
from camerahub.db.types import utcnow
from camerahub.recorder import Recorder
from camerahub.recorder.streams import OnvifStreamResolver
from tests.reliability.conftest import FAST
from tests.support.integrity import check_footage, decode_problem
from tests.support.recorder import deployment
from tests.support.s3 import MotoS3
from tests.support.simulators import simulator_fixture
from tests.support.tcpproxy import TcpProxy
from tests.support.wait import wait_for

SUBNET = 247  # 127.W.247.x / 127.W.248.x

sim = simulator_fixture(SUBNET, cameras=2, hq=1, main_size="640x360")


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs for the spool, unmounted afterwards."""
    path = tmp_path / "spool"
    path.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs for the spool needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs",
                           str(path)], capture_output=True, text=True, timeout=60)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        with contextlib.suppress(subprocess.SubprocessError):
            subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=60)


def _events(sessions, prefix: str) -> list[m.Event]:
    with sessions() as s:
        return list(s.scalars(select(m.Event).where(m.Event.kind.startswith(prefix))))


def test_full_spool_disk_alarms_keeps_footage_whole_and_recovers(sim, small_disk, make_env,
                                                                 tmp_path):
    moto = MotoS3().start()
    bucket = moto.bucket()
    proxy = TcpProxy(moto.port).start()
    storage = {"backend": "s3", "s3": {"bucket": bucket, "endpoint_url": proxy.endpoint,
                                       "path_style": True, "region": "us-east-1"}}
    data = deployment(sim, storage, tmp_path, spool_dir=str(small_disk))
    cfg, runtime, sessions = make_env(data)
    store = open_store(cfg, runtime)
    rec = Recorder(cfg, runtime, sessions, store, OnvifStreamResolver(cfg), options=FAST)
    rec.start()
    try:
        wait_for(lambda: {x.camera_id for x in _rows(sessions, m.Segment)} == {"cam-a", "cam-b"},
                 timeout=180)
        proxy.cut()
        alarm = wait_for(lambda: _events(sessions, "spool.disk_full"), timeout=240)[0]
        assert alarm.severity == "critical"
        wait_for(lambda: [g for g in _rows(sessions, m.Gap) if g.cause == "spool_full"],
                 timeout=120)
        # nothing in ready/ is damaged by the full disk
        for item in rec.spool.ready_items():
            assert decode_problem(item.path.read_bytes(), item.frames) is None, item.path
        proxy.restore()
        back = utcnow()

        def recording_again():
            """both cameras recorded after space returned, and every gap is closed"""
            rows = _rows(sessions, m.Segment)
            return ({x.camera_id for x in rows if x.start >= back} == {"cam-a", "cam-b"}
                    and all(g.end is not None for g in _rows(sessions, m.Gap)))
        wait_for(recording_again, timeout=240)
        wait_for(lambda: _events(sessions, "spool.disk_recovered"), timeout=60)
    finally:
        rec.stop()
    try:
        report = check_footage(store, sessions, ffmpeg_every=5)
    finally:
        proxy.stop()
        moto.stop()
    assert report, report.problems[:20]
    full = [g for g in _rows(sessions, m.Gap) if g.cause == "spool_full"]
    assert full and all(g.end - g.start < timedelta(minutes=5) for g in full)
    # what could not be finished on the full disk never reached the store
    assert not [p for p in rec.spool.ready.iterdir() if p.suffix == ".ts"]


def _rows(sessions, model):
    with sessions() as s:
        return list(s.scalars(select(model)))
