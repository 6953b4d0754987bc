"""CameraAccess against camerahub-sim (in-process, 127.0.101.x / 127.0.102.x): logins from
secret references, device URLs, and stream URLs asked over ONVIF and cached."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import av
import pytest
import yaml

from camerahub.cameras import (
    CameraAccess,
    CredentialUnavailable,
    StreamUnavailable,
    UnknownCamera,
    insert_login,
)
from camerahub.config import Config, SecretMissing, parse_config
from camerahub.onvif import Login

testing = pytest.importorskip("simulator.testing")

SUBNET = 101  # 127.0.101.x (HQ) / 127.0.102.x: this folder's own cameras
ENV = "CAMERAHUB_TEST_ACCESS_PASSWORD"
# Every character that must be percent-encoded in a URL's user info.
PASSWORD = "p@ss:w/rd %x"
NOBODY = "127.0.101.250"  # in this folder's range, where nothing listens


@pytest.fixture(scope="module")
def sim():
    """Two simulated cameras (hq-001, fac-001) whose login is admin / PASSWORD."""
    with testing.running_simulator(cameras=2, hq=1, subnet=SUBNET, password=PASSWORD) as s:
        yield s


def deployment(sim, tmp_path, credential: str | None = "env") -> Config:
    """cam-a (hq-001, the defaults' credential), cam-b (fac-001, a password file) and
    cam-x where nothing answers; `credential=None` gives no camera a credential."""
    secret = tmp_path / "camera-password"
    secret.write_text(PASSWORD + "\n", encoding="utf-8")
    hq, fac = sim.cameras[0], sim.cameras[1]
    data = {
        "sites": [{"id": "hq", "name": "本庁舎", "kind": "headquarters"},
                  {"id": "fac", "name": "施設", "kind": "facility"}],
        "org": {"departments": [{"id": "kumin", "name": "区民部", "divisions": [
            {"id": "koseki", "name": "戸籍住民分野", "rooms": [
                {"id": "room-a", "name": "A", "site": "hq"},
                {"id": "room-b", "name": "B", "site": "fac"}]}]}]},
        "credentials": [{"id": "env", "username": "admin", "password_env": ENV},
                        {"id": "file", "username": "admin", "password_file": str(secret)}],
        "defaults": {"port": sim.options.http_port, "credential": credential},
        "cameras": [
            {"id": "cam-a", "name": "A", "site": "hq", "room": "room-a", "address": hq.address},
            {"id": "cam-b", "name": "B", "site": "fac", "room": "room-b", "address": fac.address,
             "credential": "file" if credential else None},
            {"id": "cam-x", "name": "X", "site": "hq", "room": "room-a", "address": NOBODY,
             "port": sim.options.http_port + 1}],
    }
    return parse_config(yaml.safe_dump(data, allow_unicode=True), "access-test.yaml")


@pytest.fixture
def cfg(sim, tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, PASSWORD)
    return deployment(sim, tmp_path)


@pytest.fixture
def access(cfg):
    camera_access = CameraAccess(cfg)
    yield camera_access
    camera_access.close()


@pytest.fixture
def healed(sim):
    """Every simulated camera healthy again after the test."""
    yield sim
    for cam in sim.cameras:
        sim.clear_faults(cam.camera_id)


# -- the configuration's index ------------------------------------------------------------


def test_the_config_finds_cameras_by_id(cfg):
    assert cfg.camera("cam-b") is cfg.cameras[1]
    assert cfg.camera("nope") is None
    assert list(cfg.camera_by_id) == ["cam-a", "cam-b", "cam-x"]
    with pytest.raises(TypeError):
        cfg.camera_by_id["nope"] = cfg.cameras[0]  # type: ignore[index]


def test_the_index_follows_a_copy_with_other_cameras_and_is_not_part_of_equality(cfg):
    fewer = cfg.model_copy(update={"cameras": cfg.cameras[:1]})
    assert fewer.camera("cam-b") is None and cfg.camera("cam-b") is not None
    same = cfg.model_copy()
    assert same == cfg and "_camera_index" not in cfg.model_dump()


# -- logins ---------------------------------------------------------------------------------


def test_logins_come_from_env_and_file_references(access):
    assert access.login("cam-a") == Login("admin", PASSWORD)  # the defaults' credential
    assert access.login("cam-b") == Login("admin", PASSWORD)  # its own, from a file
    assert access.default_login() == Login("admin", PASSWORD)


def test_a_login_is_resolved_once_and_again_after_forget(access, monkeypatch):
    first = access.login("cam-a")
    monkeypatch.setenv(ENV, "rotated")
    assert access.login("cam-a") is first
    access.forget("cam-a")  # a failed session may mean a rotated password
    assert access.login("cam-a") == Login("admin", "rotated")


def test_a_missing_secret_is_a_typed_error_that_names_the_reference(access, monkeypatch):
    monkeypatch.delenv(ENV)
    with pytest.raises(CredentialUnavailable) as err:
        access.login("cam-a")
    assert ENV in str(err.value) and PASSWORD not in str(err.value)
    assert (err.value.camera_id, err.value.credential_id) == ("cam-a", "env")
    assert isinstance(err.value, SecretMissing)  # what callers caught before
    with pytest.raises(CredentialUnavailable):
        access.stream_url("cam-a", "main")
    monkeypatch.setenv(ENV, PASSWORD)  # a failure is not cached: the secret may appear
    assert access.login("cam-a") == Login("admin", PASSWORD)


def test_a_missing_secret_file_names_the_file_not_the_secret(sim, tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, PASSWORD)
    cfg = deployment(sim, tmp_path)
    (tmp_path / "camera-password").unlink()
    with pytest.raises(CredentialUnavailable, match="camera-password") as err:
        CameraAccess(cfg).login("cam-b")
    assert PASSWORD not in str(err.value)


def test_a_camera_without_credential_has_no_login(sim, tmp_path):
    access = CameraAccess(deployment(sim, tmp_path, credential=None))
    try:
        assert access.login("cam-a") is None and access.default_login() is None
        with pytest.raises(CredentialUnavailable, match="cam-a has no credential"):
            access.require_login("cam-a")
        with pytest.raises(StreamUnavailable):  # the camera refuses an anonymous GetStreamUri
            access.stream_url("cam-a", "main")
    finally:
        access.close()


def test_unknown_cameras_are_a_typed_error(access):
    for ask in (access.login, access.device_url, lambda cam: access.stream_url(cam, "main")):
        with pytest.raises(UnknownCamera) as err:
            ask("nope")
        assert err.value.camera_id == "nope"


# -- URLs -------------------------------------------------------------------------------------


def test_device_urls_use_the_camera_port_else_the_defaults(sim, access):
    assert access.device_url("cam-a") == sim.device_url("hq-001")
    port = sim.options.http_port + 1
    assert access.device_url("cam-x") == f"http://{NOBODY}:{port}/onvif/device_service"


def test_stream_urls_are_asked_over_onvif_per_profile(sim, access):
    assert access.stream_url("cam-a", "main", with_login=False) == sim.rtsp_url(
        "hq-001", "main", credentials=False)
    assert access.stream_url("cam-b", "sub", with_login=False) == sim.rtsp_url(
        "fac-001", "sub", credentials=False)


def test_a_missing_profile_falls_back_to_the_first_one(sim, access):
    assert access.stream_url("cam-a", "nope", with_login=False) == sim.rtsp_url(
        "hq-001", "main", credentials=False)


def test_the_login_in_a_stream_url_is_percent_encoded(sim, access):
    url = urlsplit(access.stream_url("cam-a", "main"))
    assert (unquote(url.username), unquote(url.password)) == ("admin", PASSWORD)
    bare = urlsplit(sim.rtsp_url("hq-001", "main", credentials=False))
    assert (url.hostname, url.port, url.path) == (bare.hostname, bare.port, bare.path)


def test_the_stream_url_opens_on_the_camera(access):
    url = access.stream_url("cam-b", "sub")
    with av.open(url, options={"rtsp_transport": "tcp"}, timeout=30) as container:
        packet = next(container.demux(video=0))
    assert packet.size > 0


def test_stream_urls_are_cached_until_forget(healed, access):
    first = access.stream_url("cam-b", "main")
    healed.set_faults("fac-001", reject_auth=True)
    assert access.stream_url("cam-b", "main") == first  # not asked again
    access.forget("cam-b")
    with pytest.raises(StreamUnavailable) as err:
        access.stream_url("cam-b", "main")
    assert err.value.camera_id == "cam-b" and PASSWORD not in str(err.value)
    healed.clear_faults("fac-001")
    assert access.stream_url("cam-b", "main") == first


def test_an_unreachable_camera_is_a_typed_error(access):
    with pytest.raises(StreamUnavailable, match="cam-x"):
        access.stream_url("cam-x", "main")


def test_insert_login_replaces_the_user_info_and_keeps_the_rest():
    url = insert_login("rtsp://old:secret@127.0.101.9:554/live?x=1", Login("o p", "a@b:c/d%"))
    assert url == "rtsp://o%20p:a%40b%3Ac%2Fd%25@127.0.101.9:554/live?x=1"
