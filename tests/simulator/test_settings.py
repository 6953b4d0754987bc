"""Device settings of the simulator through onvif-zeep (its WSDLs, strict parsing) and the
control endpoint: options, changes that persist, refusals a real camera gives."""

from __future__ import annotations

import httpx
import pytest
from onvif import ONVIFCamera, ONVIFError

from tests.support.sim_ranges import SUBNET_SETTINGS
from tests.support.simulators import simulator_fixture

# Two cameras whose settings these tests change
settings_sim = simulator_fixture(SUBNET_SETTINGS, cameras=2, hq=2)


@pytest.fixture(scope="module")
def onvif_cam(settings_sim):
    """onvif-zeep's ONVIFCamera against the first camera."""
    cam = settings_sim.camera("hq-001")
    return ONVIFCamera(cam.address, settings_sim.options.http_port, "admin", "admin")


def test_encoder_options_parse_with_onvif_zeep(onvif_cam):
    media = onvif_cam.create_media_service()
    opts = media.GetVideoEncoderConfigurationOptions({"ConfigurationToken": "vec_main"})
    sizes = [(r.Width, r.Height) for r in opts.H264.ResolutionsAvailable]
    assert sizes == [(1920, 1080), (1280, 720), (640, 360)]
    assert (opts.H264.FrameRateRange.Min, opts.H264.FrameRateRange.Max) == (1, 30)
    assert (opts.H264.GovLengthRange.Min, opts.H264.GovLengthRange.Max) == (1, 300)
    assert list(opts.H264.H264ProfilesSupported) == ["Baseline", "Main", "High"]
    sub = media.GetVideoEncoderConfigurationOptions({"ProfileToken": "sub"})
    assert [(r.Width, r.Height) for r in sub.H264.ResolutionsAvailable] == [(640, 360),
                                                                            (320, 180)]


def test_set_encoder_persists_and_bad_values_are_refused(settings_sim, onvif_cam):
    media = onvif_cam.create_media_service()
    conf = media.GetVideoEncoderConfiguration({"ConfigurationToken": "vec_sub"})
    conf.Resolution.Width, conf.Resolution.Height = 320, 180
    conf.H264.GovLength = 5
    conf.RateControl.BitrateLimit = 200
    media.SetVideoEncoderConfiguration({"Configuration": conf, "ForcePersistence": True})
    again = media.GetVideoEncoderConfiguration({"ConfigurationToken": "vec_sub"})
    assert (again.Resolution.Width, again.H264.GovLength, again.RateControl.BitrateLimit) == (
        320, 5, 200)
    for field, value in (("Width", 1000), ("GovLength", 301)):
        bad = media.GetVideoEncoderConfiguration({"ConfigurationToken": "vec_sub"})
        if field == "Width":
            bad.Resolution.Width = value
        else:
            bad.H264.GovLength = value
        with pytest.raises(ONVIFError) as caught:
            media.SetVideoEncoderConfiguration({"Configuration": bad, "ForcePersistence": True})
        assert "not offered" in str(caught.value) or "outside" in str(caught.value)
    cam = settings_sim.wait_streams("hq-001", timeout=120)
    assert (cam.served["sub"].width, cam.served["sub"].gop) == (320, 5)


def test_refusals_carry_onvif_subcodes(settings_sim):
    from camerahub.onvif import EncoderChange, Login, OnvifClient, SettingsChange
    from camerahub.onvif.errors import DeviceRejected

    with OnvifClient(timeout=10) as client:
        url = settings_sim.device_url("hq-002")
        change = SettingsChange(encoders=(EncoderChange("main", "vec_main", fps=60),))
        with pytest.raises(DeviceRejected, match="InvalidArgVal/ConfigModify"):
            client.write_settings(url, Login("admin", "admin"), change)
        with pytest.raises(DeviceRejected, match="InvalidHostname"):
            client.write_settings(url, Login("admin", "admin"),
                                  SettingsChange(hostname="bad_name!"))


def test_ntp_time_zone_and_hostname(settings_sim, onvif_cam):
    device = onvif_cam.devicemgmt
    device.SetNTP({"FromDHCP": False, "NTPManual": [
        {"Type": "DNS", "DNSname": "ntp.example.invalid"},
        {"Type": "IPv4", "IPv4Address": "127.0.0.123"}]})
    ntp = device.GetNTP()
    assert [h.DNSname or h.IPv4Address for h in ntp.NTPManual] == ["ntp.example.invalid",
                                                                   "127.0.0.123"]
    device.SetSystemDateAndTime({"DateTimeType": "NTP", "DaylightSavings": False,
                                 "TimeZone": {"TZ": "JST-9"}})
    clock = device.GetSystemDateAndTime()
    assert (clock.DateTimeType, clock.TimeZone.TZ) == ("NTP", "JST-9")
    assert (clock.LocalDateTime.Time.Hour - clock.UTCDateTime.Time.Hour) % 24 == 9
    device.SetHostname({"Name": "koseki-cam-1"})
    assert device.GetHostname().Name == "koseki-cam-1"
    assert settings_sim.camera("hq-001").ntp_servers == ["ntp.example.invalid", "127.0.0.123"]


def test_control_endpoint_changes_settings_by_hand(settings_sim):
    url = f"{settings_sim.control_url}/cameras/hq-002/settings"
    reply = httpx.post(url, json={"main": {"resolution": "640x360", "gop": 12},
                                  "hostname": "by-hand"}, timeout=30)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["encoders"]["main"]["width"] == 640 and body["hostname"] == "by-hand"
    refused = httpx.post(url, json={"main": {"resolution": "123x45"}}, timeout=30)
    assert refused.status_code == 400 and "not offered" in refused.json()["error"]
    unknown = httpx.post(url, json={"colour": "red"}, timeout=30)
    assert unknown.status_code == 400
    settings_sim.wait_streams("hq-002", timeout=120)


def test_name_and_location_scopes_are_configurable(settings_sim, onvif_cam):
    device = onvif_cam.devicemgmt
    scopes = {str(s.ScopeItem): str(s.ScopeDef) for s in device.GetScopes()}
    assert scopes["onvif://www.onvif.org/name/HQ_Camera_001"] == "Configurable"
    assert scopes["onvif://www.onvif.org/hardware/CHS-D2M"] == "Fixed"
    name = "onvif://www.onvif.org/name/%E6%88%B8%E7%B1%8D%20%E3%82%AB%E3%83%A1%E3%83%A91"
    device.SetScopes({"Scopes": [name, "onvif://www.onvif.org/location/hq/floor-1"]})
    assert name in [str(s.ScopeItem) for s in device.GetScopes()]
    assert settings_sim.camera("hq-001").name == "戸籍 カメラ1"
    with pytest.raises(ONVIFError, match="fixed"):
        device.SetScopes({"Scopes": ["onvif://www.onvif.org/hardware/other"]})


def test_open_sessions_of_a_changed_profile_are_cut(settings_sim):
    import av

    url = settings_sim.rtsp_url("hq-002", "sub")
    with av.open(url, options={"rtsp_transport": "tcp"}, timeout=30) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (640, 360)
        packets = container.demux(stream)
        next(packets)
        settings_sim.change_settings("hq-002", sub={"resolution": "320x180"})
        settings_sim.wait_streams("hq-002", timeout=120)
        ended = False
        try:
            for _ in range(10_000):  # the server cuts the session: the stream ends
                next(packets)
        except (StopIteration, av.error.FFmpegError, OSError):
            ended = True
        assert ended
    with av.open(url, options={"rtsp_transport": "tcp"}, timeout=30) as container:
        ctx = container.streams.video[0].codec_context
        assert (ctx.width, ctx.height) == (320, 180)
