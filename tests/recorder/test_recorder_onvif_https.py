"""A deployment whose cameras speak ONVIF over HTTPS (`onvif_https`): with
`defaults.tls_ca_file` the recorder and discovery reach them and the footage is recorded;
without it, a camera whose certificate comes from no trusted CA is a recorder gap with cause
`untrusted_certificate`, a discovery finding of that kind (both high), and it hears no
request of ours, WS-Security token included.

Cameras on 127.W.127.x / 127.W.128.x, serving ONVIF and RTSP over TLS with certificates of
the test's own CA.
"""

from __future__ import annotations

import shutil

import pytest
from sqlalchemy import func, select

from camerahub.composition import open_store
from camerahub.db import models as m
from camerahub.discovery import DiscoveryService
from camerahub.recorder import Recorder
from camerahub.recorder.streams import OnvifStreamResolver
from tests.support.recorder import FAST, deployment, refused_twice, sessions_started
from tests.support.tls import simulator_pki, tls_simulator
from tests.support.wait import wait_for

SUBNET = 127


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return simulator_pki(tmp_path_factory.mktemp("pki"), SUBNET)


@pytest.fixture(scope="module")
def cams(pki):
    with tls_simulator(pki, SUBNET, onvif_https=True) as sim:
        yield sim


def _config(cams, tmp_path, ca_file: str | None) -> dict:
    data = deployment(cams, {"backend": "file", "file": {"path": str(tmp_path / "store")}},
                      tmp_path)
    data["defaults"]["onvif_https"] = True
    for site in data["sites"]:  # discovery asks the configured cameras directly
        site["discovery"] = {"mode": "manual"}
    if ca_file is not None:
        data["defaults"]["tls_ca_file"] = ca_file
    return data


def _record(make_env, data: dict, until) -> object:
    cfg, runtime, sessions = make_env(data)
    resolver = OnvifStreamResolver(cfg, ca_file=runtime.camera_ca_file(cfg))
    rec = Recorder(cfg, runtime, sessions, open_store(cfg, runtime), resolver, options=FAST)
    rec.start()
    try:
        wait_for(lambda: until(sessions), timeout=180)
    finally:
        rec.stop()
    return sessions


def _segments(sessions, camera_id: str) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(m.Segment)
                        .where(m.Segment.camera_id == camera_id))


def _discover(make_env, data: dict, runtime_ca: bool) -> dict[str, m.CameraState]:
    cfg, runtime, sessions = make_env(data)
    service = DiscoveryService(cfg, sessions, device_timeout=10,
                               ca_file=runtime.camera_ca_file(cfg) if runtime_ca else None)
    try:
        service.run_once()
    finally:
        service.close()
    with sessions() as s:
        return {st.camera_id: st for st in s.scalars(select(m.CameraState))}, sessions


def test_https_cameras_are_recorded_and_discovered_with_the_deployments_ca(
        cams, pki, make_env, tmp_path):
    ca, _, _ = pki
    shutil.copy(ca, tmp_path / "cameras-ca.pem")  # beside the config file (tmp_path/test.yaml)
    data = _config(cams, tmp_path, "cameras-ca.pem")
    sessions = _record(make_env, data,
                       lambda s: _segments(s, "cam-a") >= 2 and _segments(s, "cam-b") >= 2)
    with sessions() as s:
        assert not s.scalars(select(m.Gap).where(m.Gap.cause == "untrusted_certificate")).all()
    states, _ = _discover(make_env, data, runtime_ca=True)
    assert {cam: st.status for cam, st in states.items()} == {"cam-a": "online",
                                                            "cam-b": "online"}


def test_an_untrusted_https_camera_is_a_gap_and_a_finding_and_hears_nothing(
        cams, make_env, tmp_path):
    before = sessions_started(cams)
    data = _config(cams, tmp_path, None)
    sessions = _record(make_env, data, refused_twice)
    with sessions() as s:
        gaps = s.scalars(select(m.Gap).where(m.Gap.camera_id == "cam-a")).all()
        events = s.scalars(select(m.Event).where(m.Event.camera_id == "cam-a")).all()
    assert gaps and all(g.cause == "untrusted_certificate" for g in gaps)
    assert {e.severity for e in events if e.kind == "recorder.untrusted_certificate"} == {"high"}
    assert _segments(sessions, "cam-a") == 0
    assert sessions_started(cams) == before  # no stream URI learned: no RTSP request sent

    states, sessions = _discover(make_env, data, runtime_ca=False)
    assert {st.status for st in states.values()} == {"untrusted"}
    with sessions() as s:
        found = s.scalars(select(m.Event).where(
            m.Event.kind == "discovery.untrusted_certificate")).all()
    assert {e.camera_id for e in found} == {"cam-a", "cam-b"}
    assert {e.severity for e in found} == {"high"}
    assert "certificate not trusted" in gaps[0].detail
    assert all("certificate not trusted" in e.message for e in found)
    for text in [g.detail for g in gaps] + [e.message for e in events + found]:
        assert ":admin@" not in text and "admin:admin" not in text


@pytest.mark.parametrize("default", [False, True], ids=["http-default", "https-default"])
def test_register_says_onvif_https_for_a_device_found_over_it(cams, pki, tmp_path,
                                                              monkeypatch, capsys, default):
    """`discover --register` writes `onvif_https: true` for a new device whose WS-Discovery
    answer named an https:// XAddr, unless the defaults already say so: the entry ops paste
    keeps asking it over HTTPS."""
    import yaml

    from camerahub.cli import main

    monkeypatch.setenv("CAMERAHUB_CAMERA_PASSWORD", "admin")
    monkeypatch.delenv("CAMERAHUB_DATABASE_URL", raising=False)
    ca, _, _ = pki
    shutil.copy(ca, tmp_path / "cameras-ca.pem")
    data = _config(cams, tmp_path, "cameras-ca.pem")
    data["cameras"] = data["cameras"][:1]  # cam-b's device is not in the inventory
    data["defaults"]["onvif_https"] = default
    config = tmp_path / "camerahub.yaml"
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    new = cams.cameras[1]
    assert main(["discover", "--register", "--config", str(config),
                 "--targets", new.address]) == 0
    entries = yaml.safe_load(capsys.readouterr().out)["cameras"]
    assert [(e["address"], e["port"], e.get("onvif_https")) for e in entries] == [
        (new.address, cams.options.http_port, None if default else True)]
