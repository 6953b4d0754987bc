"""The adapter against a hostile camera: every bad answer to every operation we call is a
typed error or a capability recorded as absent, and nothing absurd reaches our types.

The camera is tests.support.hostile_onvif in front of a simulated one (127.W.201.x), so all
but the one corrupted answer are a healthy camera's.
"""

from __future__ import annotations

import logging
import math
import re

import pytest

import camerahub.onvif.client as onvif_client
from camerahub.onvif import (
    DeviceRejected,
    DeviceReport,
    DeviceSettings,
    DeviceUnreachable,
    EncoderChange,
    Login,
    MalformedAnswer,
    NotOnvifDevice,
    OnvifClient,
    OnvifError,
    SettingsChange,
)
from tests.support.hostile_onvif import MODES, HostileOnvif
from tests.support.simulators import simulator_fixture

SUBNET = 201  # 127.W.201.x / 127.W.202.x: this module's own cameras
ADMIN = Login("admin", "admin")
FIRST = "GetSystemDateAndTime"  # the first call: an answer that is not XML means "not ONVIF"
INTERROGATION = (FIRST, "GetDeviceInformation", "GetNetworkInterfaces", "GetCapabilities",
                 "GetProfiles", "GetStreamUri", "GetSnapshotUri")
SETTINGS = (FIRST, "GetCapabilities", "GetProfiles", "GetVideoEncoderConfigurationOptions",
            "GetNTP", "GetHostname", "GetScopes")
WRITES = ("SetNTP", "SetSystemDateAndTime", "SetHostname", "GetScopes", "SetScopes")
QUICK = tuple(m for m in MODES if m != "endless")
NOT_XML = ("empty", "not_xml", "truncated", "oversized")  # the document itself is broken
# SOAP whose answer lacks the one thing the operation is for
NOTHING_IN_IT = ("empty_body", "hollow", "wrong_answer")
MAC = re.compile(r"^[0-9a-f]{2}([:-][0-9a-f]{2}){5}$")

sim = simulator_fixture(SUBNET, cameras=2, hq=1)


@pytest.fixture(scope="module")
def client():
    with OnvifClient(timeout=10, max_workers=2) as c:
        yield c


@pytest.fixture(scope="module")
def _hostile(sim):
    with HostileOnvif(sim.device_url("hq-001")) as cam:
        yield cam


@pytest.fixture
def hostile(_hostile):
    """The hostile camera, healed after the test."""
    yield _hostile
    _hostile.heal()


def _sane_number(value) -> bool:
    return value is None or (math.isfinite(value) and -(2**31) <= value < 2**31)


def _sane_text(value, limit: int) -> bool:
    return value is None or (isinstance(value, str) and 0 < len(value) <= limit)


def assert_sane_report(report: DeviceReport) -> None:
    """Every number fits a 32-bit field, every text its column; no garbage got through."""
    info = report.info
    assert all(_sane_text(v, 128) for v in (info.manufacturer, info.model, info.firmware,
                                            info.serial, info.hardware_id))
    assert report.mac is None or MAC.match(report.mac)
    assert _sane_number(report.clock_offset_s)
    for p in report.profiles:
        assert _sane_text(p.token, 64) and _sane_text(p.name, 128)
        assert all(_sane_number(v) for v in (p.width, p.height, p.fps))
        assert _sane_text(p.codec, 128) and _sane_text(p.stream_uri, 4096)
    assert _sane_text(report.snapshot_uri, 4096)


def assert_sane_settings(settings: DeviceSettings) -> None:
    """The same for the settings we manage."""
    for enc in settings.encoders:
        assert _sane_text(enc.profile, 64)
        assert all(_sane_number(v) for v in (enc.width, enc.height, enc.fps, enc.bitrate_kbps,
                                             enc.gop))
    for _profile, opts in settings.options:
        assert all(_sane_number(v) for size in opts.resolutions for v in size)
        for bounds in (opts.fps_range, opts.gop_range, opts.bitrate_range):
            assert bounds is None or all(_sane_number(v) for v in bounds)
    assert all(_sane_text(v, 1024) for v in (settings.hostname, settings.name,
                                             settings.timezone, settings.time_mode))
    assert all(_sane_text(v, 1024) for v in settings.ntp_servers or ())


@pytest.mark.parametrize("mode", QUICK)
@pytest.mark.parametrize("operation", INTERROGATION)
def test_a_bad_answer_to_an_interrogation_is_typed_or_absent(hostile, client, caplog, operation,
                                                            mode):
    hostile.corrupt(operation, mode)
    try:
        with caplog.at_level(logging.WARNING):
            report = client.interrogate(hostile.device_url, ADMIN)
    except OnvifError as exc:
        # only an unreadable first answer may end the interrogation: "not an ONVIF device"
        assert (operation, type(exc)) == (FIRST, NotOnvifDevice) and mode in NOT_XML, exc
        return
    finally:
        assert hostile.corrupted[operation] >= 1, "the corrupted operation was never asked"
    assert not (operation == FIRST and mode in NOT_XML), "an unreadable first answer passed"
    assert not caplog.records, "a device's garbage must not fill the logs"
    assert_sane_report(report)
    if mode in NOT_XML + NOTHING_IN_IT:
        assert operation in report.missing
    if operation in report.missing:  # and says why
        assert any(p.startswith(f"{operation}: ") for p in report.malformed), report.malformed


@pytest.mark.parametrize("operation", INTERROGATION)
def test_an_endless_answer_is_cut_by_the_timeout(hostile, operation):
    hostile.corrupt(operation, "endless")
    with OnvifClient(timeout=3) as quick, \
            pytest.raises(DeviceUnreachable, match=f"{operation}: timed out"):
        quick.interrogate(hostile.device_url, ADMIN)
    assert hostile.corrupted[operation] == 1  # and nothing was asked again


@pytest.mark.parametrize("mode", QUICK)
@pytest.mark.parametrize("operation", SETTINGS)
def test_a_bad_answer_while_reading_settings_is_typed_or_absent(hostile, client, operation,
                                                                mode):
    hostile.corrupt(operation, mode)
    try:
        settings = client.read_settings(hostile.device_url, ADMIN)
    except OnvifError as exc:
        assert (operation, type(exc)) == (FIRST, NotOnvifDevice) and mode in NOT_XML, exc
        return
    assert not (operation == FIRST and mode in NOT_XML), "an unreadable first answer passed"
    assert hostile.corrupted[operation] >= 1
    assert_sane_settings(settings)
    if mode in NOT_XML + NOTHING_IN_IT:
        assert operation in settings.missing


@pytest.mark.parametrize("mode", QUICK)
@pytest.mark.parametrize("operation", WRITES)
def test_a_bad_answer_while_writing_settings_is_a_typed_error(hostile, client, operation, mode):
    change = SettingsChange(ntp_servers=("ntp.example.jp",), time_mode="NTP", timezone="JST-9",
                            hostname="hostile-cam", name="Hostile Cam")
    hostile.corrupt(operation, mode)
    try:
        client.write_settings(hostile.device_url, ADMIN, change)
    except OnvifError as exc:
        assert isinstance(exc, DeviceRejected | MalformedAnswer), exc
    else:
        # a Set* answer has nothing in it to lose: only a broken document must be refused
        assert mode not in NOT_XML + ("empty_body",)
    assert hostile.corrupted[operation] >= 1


@pytest.mark.parametrize("mode", ["empty", "truncated", "empty_body", "hollow"])
def test_a_bad_encoder_configuration_is_refused_before_anything_is_set(hostile, client, mode):
    enc = client.read_settings(hostile.device_url, ADMIN, options=False).encoder("sub")
    change = SettingsChange(encoders=(EncoderChange("sub", enc.config_token,
                                                    bitrate_kbps=enc.bitrate_kbps),))
    hostile.corrupt("GetVideoEncoderConfiguration", mode)
    with pytest.raises((DeviceRejected, MalformedAnswer)):
        client.write_settings(hostile.device_url, ADMIN, change)
    assert hostile.requests["SetVideoEncoderConfiguration"] == 0


def test_an_unforeseen_exception_leaves_the_adapter_typed(hostile, client, monkeypatch):
    """A bug of ours in reading an answer is still a typed error, never a bare exception."""

    def broken(*_args, **_kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr(onvif_client.OnvifClient, "_media", broken)
    with pytest.raises(MalformedAnswer, match="KeyError"):
        client.interrogate(hostile.device_url, ADMIN)
