"""ONVIF device and media services of one simulated camera (SOAP 1.2 over HTTP)."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from xml.sax.saxutils import escape

from lxml import etree

from simulator import settings, soap
from simulator.media import ProfileSpec
from simulator.settings import EncoderRequest, SettingsError
from simulator.soap import NS, SoapFault
from simulator.state import FIRMWARE_VERSION, MANUFACTURER, CameraState, encoder_kbps

log = logging.getLogger(__name__)

# Operations ONVIF allows before authentication (access class PRE_AUTH) that we serve.
PRE_AUTH = {"GetSystemDateAndTime"}


@dataclass(frozen=True)
class Ports:
    """Where this simulator serves its protocols."""

    http: int
    rtsp: int
    rtsp_scheme: str = "rtsp"  # "rtsps" when the RTSP port speaks TLS
    http_scheme: str = "http"  # "https" when ONVIF is served over TLS


class OnvifService:
    """Answers SOAP requests for one camera; stateless apart from the camera's state."""

    def __init__(self, camera: CameraState, ports: Ports,
                 on_encoder_change: Callable[[str], None] | None = None) -> None:
        self.camera = camera
        self.ports = ports
        self.on_encoder_change = on_encoder_change  # told the profile token after a Set
        self.verifier = soap.UsernameTokenVerifier()
        self._ops: dict[tuple[str, str], Callable[[etree._Element], str]] = {}
        for name in ("GetSystemDateAndTime", "GetDeviceInformation", "GetCapabilities",
                     "GetServices", "GetScopes", "GetHostname", "GetNetworkInterfaces",
                     "GetNTP", "SetNTP", "SetHostname", "SetSystemDateAndTime", "SetScopes"):
            self._ops[(NS["tds"], name)] = getattr(self, "_" + name)
        for name in ("GetProfiles", "GetProfile", "GetStreamUri", "GetSnapshotUri",
                     "GetVideoSources", "GetVideoEncoderConfigurations",
                     "GetVideoEncoderConfiguration", "GetVideoEncoderConfigurationOptions",
                     "SetVideoEncoderConfiguration"):
            self._ops[(NS["trt"], name)] = getattr(self, "_" + name)

    def handle(self, body: bytes) -> tuple[int, bytes]:
        """Process one request body; return (HTTP status, SOAP response)."""
        try:
            header, request = soap.parse_envelope(body)
            name = etree.QName(request).localname
            op = self._ops.get((etree.QName(request).namespace or "", name))
            if op is None:
                raise soap.action_not_supported(name)
            if name not in PRE_AUTH:
                self._authorize(header)
            return 200, soap.envelope(op(request))
        except SettingsError as exc:
            fault = soap.invalid_arg(exc.subcode, str(exc))
            log.debug("%s: refused setting: %s", self.camera.camera_id, exc)
            return fault.http_status, soap.fault_envelope(fault)
        except SoapFault as fault:
            log.debug("%s: SOAP fault %s %s", self.camera.camera_id, fault.subcodes, fault)
            return fault.http_status, soap.fault_envelope(fault)

    def _authorize(self, header: etree._Element | None) -> None:
        """Check the UsernameToken; the reject-auth fault refuses even correct ones."""
        cam = self.camera
        self.verifier.verify(header, cam.username, cam.password, cam.now())
        if cam.faults.reject_auth:
            raise soap.not_authorized()

    # -- helpers ---------------------------------------------------------------------

    @property
    def _http_base(self) -> str:
        return f"{self.ports.http_scheme}://{self.camera.address}:{self.ports.http}"

    def _profile(self, request: etree._Element) -> ProfileSpec:
        """The profile named by the request's ProfileToken, or a ter:NoProfile fault."""
        token = (request.findtext("trt:ProfileToken", default="", namespaces=NS)).strip()
        spec = self.camera.profiles.get(token)
        if spec is None:
            raise soap.invalid_arg("ter:NoProfile", f"Profile token {token!r} does not exist")
        return spec

    # -- device service ---------------------------------------------------------------

    def _GetSystemDateAndTime(self, _req: etree._Element) -> str:
        cam = self.camera
        now = cam.now()
        utc, local = _date_time(now), _date_time(now + _tz_offset(cam.timezone))
        return ("<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
                f"<tt:DateTimeType>{cam.time_mode}</tt:DateTimeType>"
                "<tt:DaylightSavings>false</tt:DaylightSavings>"
                f"<tt:TimeZone><tt:TZ>{escape(cam.timezone)}</tt:TZ></tt:TimeZone>"
                f"<tt:UTCDateTime>{utc}</tt:UTCDateTime><tt:LocalDateTime>{local}"
                "</tt:LocalDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>")

    def _SetSystemDateAndTime(self, req: etree._Element) -> str:
        mode = req.findtext("tds:DateTimeType", default="", namespaces=NS).strip()
        if mode not in ("NTP", "Manual"):
            raise soap.invalid_arg("ter:InvalidDateTime", f"DateTimeType {mode!r}")
        tz = req.findtext("tds:TimeZone/tt:TZ", default=None, namespaces=NS)
        if tz is not None:
            self.camera.timezone = settings.check_timezone(tz.strip())
        # Manual mode would set the clock from UTCDateTime; the simulator keeps the host
        # clock (plus any skew fault) and only records the mode.
        self.camera.time_mode = mode
        return "<tds:SetSystemDateAndTimeResponse/>"

    def _GetNTP(self, _req: etree._Element) -> str:
        cam = self.camera
        hosts = "".join(_network_host("tt:NTPManual", h) for h in cam.ntp_servers)
        return ("<tds:GetNTPResponse><tds:NTPInformation>"
                f"<tt:FromDHCP>{str(cam.ntp_from_dhcp).lower()}</tt:FromDHCP>{hosts}"
                "</tds:NTPInformation></tds:GetNTPResponse>")

    def _SetNTP(self, req: etree._Element) -> str:
        from_dhcp = req.findtext("tds:FromDHCP", default="false", namespaces=NS)
        hosts = []
        for host in req.findall("tds:NTPManual", NS):
            value = (host.findtext("tt:DNSname", namespaces=NS)
                     or host.findtext("tt:IPv4Address", namespaces=NS)
                     or host.findtext("tt:IPv6Address", namespaces=NS) or "").strip()
            hosts.append(value)
        self.camera.ntp_servers = settings.check_ntp(hosts)
        self.camera.ntp_from_dhcp = from_dhcp.strip().lower() in ("true", "1")
        return "<tds:SetNTPResponse/>"

    def _SetHostname(self, req: etree._Element) -> str:
        name = req.findtext("tds:Name", default="", namespaces=NS).strip()
        self.camera.hostname = settings.check_hostname(name)
        return "<tds:SetHostnameResponse/>"

    def _GetDeviceInformation(self, _req: etree._Element) -> str:
        cam = self.camera
        return ("<tds:GetDeviceInformationResponse>"
                f"<tds:Manufacturer>{MANUFACTURER}</tds:Manufacturer>"
                f"<tds:Model>{escape(cam.model)}</tds:Model>"
                f"<tds:FirmwareVersion>{FIRMWARE_VERSION}</tds:FirmwareVersion>"
                f"<tds:SerialNumber>{cam.serial_number}</tds:SerialNumber>"
                f"<tds:HardwareId>{escape(cam.hardware_id)}</tds:HardwareId>"
                "</tds:GetDeviceInformationResponse>")

    def _GetCapabilities(self, _req: etree._Element) -> str:
        base = self._http_base
        return ("<tds:GetCapabilitiesResponse><tds:Capabilities>"
                f"<tt:Device><tt:XAddr>{base}/onvif/device_service</tt:XAddr>"
                "<tt:Network><tt:IPFilter>false</tt:IPFilter>"
                "<tt:ZeroConfiguration>false</tt:ZeroConfiguration>"
                "<tt:IPVersion6>false</tt:IPVersion6><tt:DynDNS>false</tt:DynDNS></tt:Network>"
                "<tt:System><tt:DiscoveryResolve>false</tt:DiscoveryResolve>"
                "<tt:DiscoveryBye>true</tt:DiscoveryBye>"
                "<tt:RemoteDiscovery>false</tt:RemoteDiscovery>"
                "<tt:SystemBackup>false</tt:SystemBackup><tt:SystemLogging>false</tt:SystemLogging>"
                "<tt:FirmwareUpgrade>false</tt:FirmwareUpgrade>"
                "<tt:SupportedVersions><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor>"
                "</tt:SupportedVersions></tt:System></tt:Device>"
                f"<tt:Media><tt:XAddr>{base}/onvif/media_service</tt:XAddr>"
                "<tt:StreamingCapabilities><tt:RTPMulticast>false</tt:RTPMulticast>"
                "<tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP>"
                "</tt:StreamingCapabilities></tt:Media>"
                "</tds:Capabilities></tds:GetCapabilitiesResponse>")

    def _GetServices(self, _req: etree._Element) -> str:
        services = [(NS["tds"], "device_service"), (NS["trt"], "media_service")]
        items = "".join(
            f"<tds:Service><tds:Namespace>{ns}</tds:Namespace>"
            f"<tds:XAddr>{self._http_base}/onvif/{path}</tds:XAddr>"
            "<tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version>"
            "</tds:Service>" for ns, path in services)
        return f"<tds:GetServicesResponse>{items}</tds:GetServicesResponse>"

    def _GetScopes(self, _req: etree._Element) -> str:
        configurable = set(self.camera.configurable_scopes())
        items = "".join(f"<tds:Scopes><tt:ScopeDef>"
                        f"{'Configurable' if s in configurable else 'Fixed'}</tt:ScopeDef>"
                        f"<tt:ScopeItem>{escape(s)}</tt:ScopeItem></tds:Scopes>"
                        for s in self.camera.scopes())
        return f"<tds:GetScopesResponse>{items}</tds:GetScopesResponse>"

    def _SetScopes(self, req: etree._Element) -> str:
        scopes = [(el.text or "").strip() for el in req.findall("tds:Scopes", NS)]
        settings.set_scopes(self.camera, scopes)
        return "<tds:SetScopesResponse/>"

    def _GetHostname(self, _req: etree._Element) -> str:
        return ("<tds:GetHostnameResponse><tds:HostnameInformation>"
                "<tt:FromDHCP>false</tt:FromDHCP>"
                f"<tt:Name>{escape(self.camera.hostname)}</tt:Name>"
                "</tds:HostnameInformation></tds:GetHostnameResponse>")

    def _GetNetworkInterfaces(self, _req: etree._Element) -> str:
        cam = self.camera
        return ('<tds:GetNetworkInterfacesResponse><tds:NetworkInterfaces token="eth0">'
                "<tt:Enabled>true</tt:Enabled><tt:Info><tt:Name>eth0</tt:Name>"
                f"<tt:HwAddress>{cam.mac}</tt:HwAddress><tt:MTU>1500</tt:MTU></tt:Info>"
                "<tt:IPv4><tt:Enabled>true</tt:Enabled><tt:Config><tt:Manual>"
                f"<tt:Address>{cam.address}</tt:Address><tt:PrefixLength>8</tt:PrefixLength>"
                "</tt:Manual><tt:DHCP>false</tt:DHCP></tt:Config></tt:IPv4>"
                "</tds:NetworkInterfaces></tds:GetNetworkInterfacesResponse>")

    # -- media service -----------------------------------------------------------------

    def _source_size(self) -> tuple[int, int]:
        """The sensor resolution: the largest profile."""
        return max((p.width, p.height) for p in self.camera.profiles.values())

    def _source_config(self) -> str:
        w, h = self._source_size()
        return ('<tt:VideoSourceConfiguration token="vsc0"><tt:Name>VideoSource</tt:Name>'
                f"<tt:UseCount>{len(self.camera.profiles)}</tt:UseCount>"
                f'<tt:SourceToken>vs0</tt:SourceToken><tt:Bounds x="0" y="0" width="{w}"'
                f' height="{h}"/></tt:VideoSourceConfiguration>')

    @staticmethod
    def _encoder_config(spec: ProfileSpec, tag: str = "tt:VideoEncoderConfiguration") -> str:
        kbps = encoder_kbps(spec)
        return (f'<{tag} token="vec_{spec.token}"><tt:Name>{spec.token}</tt:Name>'
                "<tt:UseCount>1</tt:UseCount><tt:Encoding>H264</tt:Encoding>"
                f"<tt:Resolution><tt:Width>{spec.width}</tt:Width>"
                f"<tt:Height>{spec.height}</tt:Height></tt:Resolution>"
                "<tt:Quality>5</tt:Quality><tt:RateControl>"
                f"<tt:FrameRateLimit>{spec.fps}</tt:FrameRateLimit>"
                "<tt:EncodingInterval>1</tt:EncodingInterval>"
                f"<tt:BitrateLimit>{kbps}</tt:BitrateLimit></tt:RateControl>"
                f"<tt:H264><tt:GovLength>{spec.gop}</tt:GovLength>"
                f"<tt:H264Profile>{spec.h264_profile.capitalize()}</tt:H264Profile></tt:H264>"
                "<tt:Multicast><tt:Address><tt:Type>IPv4</tt:Type>"
                "<tt:IPv4Address>239.255.0.1</tt:IPv4Address></tt:Address>"
                "<tt:Port>0</tt:Port><tt:TTL>1</tt:TTL><tt:AutoStart>false</tt:AutoStart>"
                "</tt:Multicast><tt:SessionTimeout>PT60S</tt:SessionTimeout>"
                f"</{tag}>")

    def _profile_xml(self, spec: ProfileSpec, tag: str) -> str:
        return (f'<{tag} token="{spec.token}" fixed="true"><tt:Name>{spec.token}</tt:Name>'
                f"{self._source_config()}{self._encoder_config(spec)}</{tag}>")

    def _GetProfiles(self, _req: etree._Element) -> str:
        items = "".join(self._profile_xml(p, "trt:Profiles")
                        for p in self.camera.profiles.values())
        return f"<trt:GetProfilesResponse>{items}</trt:GetProfilesResponse>"

    def _GetProfile(self, req: etree._Element) -> str:
        return (f"<trt:GetProfileResponse>{self._profile_xml(self._profile(req), 'trt:Profile')}"
                "</trt:GetProfileResponse>")

    @staticmethod
    def _media_uri(tag: str, uri: str) -> str:
        return (f"<trt:{tag}Response><trt:MediaUri><tt:Uri>{escape(uri)}</tt:Uri>"
                "<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect>"
                "<tt:InvalidAfterReboot>false</tt:InvalidAfterReboot>"
                f"<tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:{tag}Response>")

    def _GetStreamUri(self, req: etree._Element) -> str:
        spec = self._profile(req)
        uri = f"{self.ports.rtsp_scheme}://{self.camera.address}:{self.ports.rtsp}/{spec.token}"
        return self._media_uri("GetStreamUri", self._faulty(self.camera.faults.stream_uri, uri))

    def _GetSnapshotUri(self, req: etree._Element) -> str:
        spec = self._profile(req)
        uri = f"{self._http_base}/onvif/snapshot?profile={spec.token}"
        return self._media_uri("GetSnapshotUri",
                               self._faulty(self.camera.faults.snapshot_uri, uri))

    def _faulty(self, template: str | None, own: str) -> str:
        """The URI a hostile-URI fault answers instead of the camera's own."""
        if template is None:
            return own
        return template.replace("{address}", self.camera.address).replace(
            "{port}", str(self.ports.rtsp))

    def _GetVideoSources(self, _req: etree._Element) -> str:
        w, h = self._source_size()
        fps = max(p.fps for p in self.camera.profiles.values())
        return ('<trt:GetVideoSourcesResponse><trt:VideoSources token="vs0">'
                f"<tt:Framerate>{fps}</tt:Framerate><tt:Resolution><tt:Width>{w}</tt:Width>"
                f"<tt:Height>{h}</tt:Height></tt:Resolution></trt:VideoSources>"
                "</trt:GetVideoSourcesResponse>")

    def _GetVideoEncoderConfigurations(self, _req: etree._Element) -> str:
        items = "".join(self._encoder_config(p, "trt:Configurations")
                        for p in self.camera.profiles.values())
        return ("<trt:GetVideoEncoderConfigurationsResponse>"
                f"{items}</trt:GetVideoEncoderConfigurationsResponse>")

    def _encoder_token(self, request: etree._Element) -> str:
        """The profile behind a ConfigurationToken (vec_main -> main), or ter:NoConfig."""
        token = request.findtext("trt:ConfigurationToken", default="", namespaces=NS).strip()
        profile = token.removeprefix("vec_")
        if profile not in self.camera.profiles:
            raise soap.invalid_arg("ter:NoConfig", f"Configuration token {token!r} does not exist")
        return profile

    def _GetVideoEncoderConfiguration(self, req: etree._Element) -> str:
        spec = self.camera.profiles[self._encoder_token(req)]
        return ("<trt:GetVideoEncoderConfigurationResponse>"
                f"{self._encoder_config(spec, 'trt:Configuration')}"
                "</trt:GetVideoEncoderConfigurationResponse>")

    def _GetVideoEncoderConfigurationOptions(self, req: etree._Element) -> str:
        if req.find("trt:ConfigurationToken", NS) is not None:
            which = self._encoder_token(req)
        elif req.find("trt:ProfileToken", NS) is not None:
            which = self._profile(req).token
        else:
            which = next(iter(self.camera.profiles))  # no token: the first profile's options
        h264 = _h264_options(settings.resolutions(self.camera, which))
        bitrate = _range("BitrateRange", settings.BITRATE_RANGE)
        return ("<trt:GetVideoEncoderConfigurationOptionsResponse><trt:Options>"
                f"{_range('QualityRange', settings.QUALITY_RANGE)}<tt:H264>{h264}</tt:H264>"
                f"<tt:Extension><tt:H264>{h264}{bitrate}</tt:H264></tt:Extension>"
                "</trt:Options></trt:GetVideoEncoderConfigurationOptionsResponse>")

    def _SetVideoEncoderConfiguration(self, req: etree._Element) -> str:
        conf = req.find("trt:Configuration", NS)
        if conf is None:
            raise soap.invalid_arg("ter:NoConfig", "Configuration missing")
        token = conf.get("token", "").removeprefix("vec_")
        self.camera.profiles[token] = settings.encoder_change(
            self.camera, token, _encoder_request(conf))
        if self.on_encoder_change is not None:
            self.on_encoder_change(token)
        return "<trt:SetVideoEncoderConfigurationResponse/>"


def _encoder_request(conf: etree._Element) -> EncoderRequest:
    """The values of a VideoEncoderConfiguration element; malformed numbers are faults."""
    def number(path: str) -> int | None:
        text = conf.findtext(path, default=None, namespaces=NS)
        if text is None:
            return None
        try:
            return int(float(text))
        except ValueError:
            raise soap.invalid_arg("ter:ConfigModify", f"{path}: {text!r}") from None
    return EncoderRequest(
        width=number("tt:Resolution/tt:Width"), height=number("tt:Resolution/tt:Height"),
        fps=number("tt:RateControl/tt:FrameRateLimit"), gop=number("tt:H264/tt:GovLength"),
        bitrate_kbps=number("tt:RateControl/tt:BitrateLimit"),
        h264_profile=(conf.findtext("tt:H264/tt:H264Profile", namespaces=NS) or "").strip()
        or None,
        encoding=(conf.findtext("tt:Encoding", namespaces=NS) or "H264").strip())


def _range(tag: str, bounds: tuple[int, int]) -> str:
    return f"<tt:{tag}><tt:Min>{bounds[0]}</tt:Min><tt:Max>{bounds[1]}</tt:Max></tt:{tag}>"


def _h264_options(sizes: list[tuple[int, int]]) -> str:
    """The H264Options body: sizes, GOV and frame-rate ranges, profiles."""
    res = "".join(f"<tt:ResolutionsAvailable><tt:Width>{w}</tt:Width><tt:Height>{h}"
                  "</tt:Height></tt:ResolutionsAvailable>" for w, h in sizes)
    profiles = "".join(f"<tt:H264ProfilesSupported>{p}</tt:H264ProfilesSupported>"
                       for p in settings.H264_PROFILES)
    return (f"{res}{_range('GovLengthRange', settings.GOP_RANGE)}"
            f"{_range('FrameRateRange', settings.FPS_RANGE)}"
            f"{_range('EncodingIntervalRange', (1, 1))}{profiles}")


def _network_host(tag: str, host: str) -> str:
    """A tt:NetworkHost: IPv4 for dotted quads, DNS for names."""
    if all(p.isdigit() for p in host.split(".")) and host.count(".") == 3:
        return f"<{tag}><tt:Type>IPv4</tt:Type><tt:IPv4Address>{host}</tt:IPv4Address></{tag}>"
    return f"<{tag}><tt:Type>DNS</tt:Type><tt:DNSname>{escape(host)}</tt:DNSname></{tag}>"


def _date_time(seconds: float) -> str:
    """A tt:DateTime body for an epoch time."""
    t = time.gmtime(seconds)
    return (f"<tt:Time><tt:Hour>{t.tm_hour}</tt:Hour><tt:Minute>{t.tm_min}</tt:Minute>"
            f"<tt:Second>{t.tm_sec}</tt:Second></tt:Time><tt:Date><tt:Year>{t.tm_year}"
            f"</tt:Year><tt:Month>{t.tm_mon}</tt:Month><tt:Day>{t.tm_mday}</tt:Day></tt:Date>")


def _tz_offset(tz: str) -> float:
    """Seconds east of UTC of a POSIX TZ's standard time (JST-9 is +9 h); DST ignored."""
    match = re.match(r"^(?:<[^>]*>|[A-Za-z]+)([+-]?\d{1,2})(?::(\d{2}))?", tz)
    if not match:
        return 0.0
    hours = int(match.group(1))
    minutes = int(match.group(2) or 0) * (1 if hours >= 0 else -1)
    return -(hours * 3600 + minutes * 60)
