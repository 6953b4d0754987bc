"""A deployment whose cameras speak rtsps://: `defaults.tls_ca_file` (relative to the config
file) makes them trusted and recorded; without it, a camera whose certificate comes from no
trusted CA is a gap with cause `untrusted_certificate`, a high event and a slow retry, and
is never sent our credentials.

Cameras on 127.W.123.x / 127.W.124.x, speaking TLS with certificates of the test's own CA.
"""

from __future__ import annotations

import shutil

import pytest
from sqlalchemy import func, select

from camerahub.composition import open_store
from camerahub.db import models as m
from camerahub.recorder import Recorder
from camerahub.recorder.streams import OnvifStreamResolver
from tests.support.recorder import FAST, deployment, refused_twice, sessions_started
from tests.support.tls import simulator_pki, tls_simulator
from tests.support.wait import wait_for

SUBNET = 123


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return simulator_pki(tmp_path_factory.mktemp("pki"), SUBNET)


@pytest.fixture(scope="module")
def cams(pki):
    with tls_simulator(pki, SUBNET) as sim:
        yield sim


def _run(make_env, cams, tmp_path, ca_file: str | None, until) -> tuple:
    data = deployment(cams, {"backend": "file", "file": {"path": str(tmp_path / "store")}},
                      tmp_path)
    if ca_file is not None:
        data["defaults"]["tls_ca_file"] = ca_file
    cfg, runtime, sessions = make_env(data)
    rec = Recorder(cfg, runtime, sessions, open_store(cfg, runtime), OnvifStreamResolver(cfg),
                   options=FAST)
    rec.start()
    try:
        wait_for(lambda: until(sessions), timeout=180)
    finally:
        rec.stop()
    return cfg, sessions


def _segments(sessions, camera_id: str) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(m.Segment)
                        .where(m.Segment.camera_id == camera_id))


def test_rtsps_cameras_are_recorded_with_the_deployments_ca(cams, pki, make_env, tmp_path):
    ca, _, _ = pki
    shutil.copy(ca, tmp_path / "cameras-ca.pem")  # beside the config file (tmp_path/test.yaml)
    _, sessions = _run(make_env, cams, tmp_path, "cameras-ca.pem",
                       lambda s: _segments(s, "cam-a") >= 2 and _segments(s, "cam-b") >= 2)
    with sessions() as s:
        assert not s.scalars(select(m.Gap).where(m.Gap.cause == "untrusted_certificate")).all()


def test_an_untrusted_camera_is_a_gap_with_its_cause_and_gets_no_credentials(
        cams, make_env, tmp_path):
    before = sessions_started(cams)
    _, sessions = _run(make_env, cams, tmp_path, None, refused_twice)
    with sessions() as s:
        gaps = s.scalars(select(m.Gap).where(m.Gap.camera_id == "cam-a")).all()
        events = s.scalars(select(m.Event).where(m.Event.camera_id == "cam-a")).all()
    assert gaps and all(g.cause == "untrusted_certificate" for g in gaps)
    assert "certificate is not trusted" in gaps[0].detail
    assert {e.severity for e in events if e.kind == "recorder.untrusted_certificate"} == {"high"}
    for text in [g.detail for g in gaps] + [e.message for e in events]:
        assert ":admin@" not in text and "admin:admin" not in text
    assert _segments(sessions, "cam-a") == 0
    assert sessions_started(cams) == before  # no session asked for: no RTSP request sent
