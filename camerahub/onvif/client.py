"""The ONVIF adapter: the only code in camerahub that sees onvif-zeep / zeep objects.

onvif-zeep's ONVIFCamera builds fresh zeep clients for every device and calls
GetCapabilities plus an event subscription on construction, which is slow and chatty for a
hundred cameras. We use its WSDL files instead: each WSDL is parsed once per process into a
zeep Document, and every device gets cheap per-device clients (sharing that Document, one
HTTP session and its connection pools) with service proxies bound to the device's address
via `create_service`.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import requests
import urllib3
import zeep.exceptions
from requests.adapters import HTTPAdapter
from zeep import Client, Settings, Transport
from zeep.wsdl import Document
from zeep.wsse.username import UsernameToken

from .errors import DeviceNotAuthorized, DeviceRejected, DeviceUnreachable, NotOnvifDevice
from .models import (
    DeviceInfo,
    DeviceReport,
    DeviceSettings,
    EncoderChange,
    EncoderOptions,
    EncoderSettings,
    Login,
    MediaProfile,
    SettingsChange,
)

log = logging.getLogger(__name__)

NS_DEVICE = "http://www.onvif.org/ver10/device/wsdl"
NS_MEDIA = "http://www.onvif.org/ver10/media/wsdl"
SERVICES = {  # name: (WSDL file of onvif-zeep, binding)
    "devicemgmt": ("devicemgmt.wsdl", f"{{{NS_DEVICE}}}DeviceBinding"),
    "media": ("media.wsdl", f"{{{NS_MEDIA}}}MediaBinding"),
}

NAME_SCOPE = "onvif://www.onvif.org/name/"
MAX_RESPONSE_BYTES = 4 << 20  # the largest ONVIF answer we read (GetProfiles is ~10 kB)


class ResponseTooLarge(requests.RequestException):
    """A device sent more than MAX_RESPONSE_BYTES: not something we parse."""


class _CappedAdapter(HTTPAdapter):
    """Reads at most MAX_RESPONSE_BYTES of a body, so a hostile device cannot fill memory."""

    def send(self, request, **kwargs):
        """Stream the body and stop past the cap; keep-alive is kept for normal answers."""
        kwargs["stream"] = True
        response = super().send(request, **kwargs)
        try:
            body = response.raw.read(MAX_RESPONSE_BYTES + 1, decode_content=True)
        except urllib3.exceptions.ReadTimeoutError as exc:  # raw reads bypass requests'
            response.close()                                # own translation
            raise requests.ReadTimeout(str(exc)) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            response.close()
            raise requests.ConnectionError(str(exc)) from None
        if len(body) > MAX_RESPONSE_BYTES:
            response.close()
            raise ResponseTooLarge(f"answer larger than {MAX_RESPONSE_BYTES} bytes")
        response._content = body
        response._content_consumed = True
        response.raw.release_conn()
        return response


# Nothing usable came back at the TCP/HTTP level: the device is off, unplugged or too slow.
# Transient by nature, so the caller marks the camera offline and simply tries next round.
UNREACHABLE_ERRORS = (requests.ConnectionError, requests.Timeout, ConnectionError, TimeoutError)
# HTTP answered, but not with SOAP we can read: a web server, a printer, a wrong port.
# Retrying will not help; the address is reported as "not ONVIF".
NOT_SOAP_ERRORS = (zeep.exceptions.TransportError, zeep.exceptions.XMLSyntaxError,
                   zeep.exceptions.XMLParseError, zeep.exceptions.DTDForbidden,
                   zeep.exceptions.EntitiesForbidden, zeep.exceptions.ExternalReferenceForbidden,
                   requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema,
                   requests.exceptions.TooManyRedirects, ResponseTooLarge)
# The device understood the request but not this operation or its answer does not fit the
# schema: record the capability as absent and carry on with the rest (a partial result).
UNSUPPORTED_ERRORS = (zeep.exceptions.Fault, zeep.exceptions.ValidationError,
                      zeep.exceptions.LookupError, zeep.exceptions.UnexpectedElementError)
# HTTP status codes that mean "who are you?" even without a SOAP fault (HTTP digest cameras).
AUTH_STATUS = (401, 403)


def default_wsdl_dir() -> Path:
    """onvif-zeep's WSDL folder (site-packages/wsdl), found without importing onvif.

    Importing onvif.client would call logging.basicConfig(INFO) as a side effect.
    """
    spec = importlib.util.find_spec("onvif")
    if spec is None or spec.origin is None:
        raise RuntimeError("onvif-zeep is not installed")
    return Path(spec.origin).resolve().parent.parent / "wsdl"


class _ClockedToken(UsernameToken):
    """WS-Security digest token dated on the camera's clock, so skewed cameras still log in."""

    def __init__(self, login: Login):
        super().__init__(login.username, login.password, use_digest=True)
        self.offset_s = 0.0

    def apply(self, envelope, headers):
        """Date the token now plus the camera's measured offset (fresh for every call)."""
        self.created = datetime.now(UTC) + timedelta(seconds=self.offset_s)
        return super().apply(envelope, headers)


class OnvifClient:
    """Interrogates ONVIF devices (identity, MAC, profiles, stream/snapshot URIs, clock) and
    reads and writes their managed settings (encoders, NTP, time zone, hostname, name).

    Thread-safe; `submit` runs interrogations on a bounded pool. Call `close` when done.
    """

    _documents: dict[str, Document] = {}
    _documents_lock = threading.Lock()

    def __init__(self, timeout: float = 5.0, max_workers: int = 16,
                 wsdl_dir: Path | None = None):
        self.timeout = float(timeout)
        self.wsdl_dir = Path(wsdl_dir) if wsdl_dir else default_wsdl_dir()
        self.max_workers = max_workers
        self._session = self._make_session(max_workers)
        # Responses come from devices on the network: no DTDs, entities or external refs.
        self._settings = Settings(strict=False, xml_huge_tree=False, forbid_dtd=True,
                                  forbid_entities=True, forbid_external=True)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    @staticmethod
    def _make_session(max_workers: int) -> requests.Session:
        """One HTTP session for all devices: keep-alive per device, no proxies from env."""
        session = requests.Session()
        session.trust_env = False  # an http_proxy variable must never reroute camera traffic
        # A redirect is the device sending our SOAP (WS-Security token included, on 307/308)
        # to a host of its choosing: never followed; the answer counts as "not ONVIF".
        session.max_redirects = 0
        adapter = _CappedAdapter(pool_connections=256, pool_maxsize=max(4, max_workers),
                                 max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    # -- lifecycle ---------------------------------------------------------------------

    def load(self) -> float:
        """Parse the WSDLs once per process (idempotent); returns the seconds it took."""
        started = time.perf_counter()
        for name in SERVICES:
            self._document(name)
        return time.perf_counter() - started

    def _document(self, name: str) -> Document:
        """The parsed WSDL of a service, shared by every client in the process."""
        path = str(self.wsdl_dir / SERVICES[name][0])
        with self._documents_lock:
            doc = self._documents.get(path)
            if doc is None:
                doc = Document(path, Transport(session=requests.Session()),
                               settings=Settings(strict=False))
                self._documents[path] = doc
        return doc

    def submit(self, xaddr: str, login: Login | None) -> Future[DeviceReport]:
        """Interrogate on the bounded pool; the future raises our OnvifError kinds."""
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix="onvif")
            return self._pool.submit(self.interrogate, xaddr, login)

    def close(self) -> None:
        """Stop the pool (waiting for running calls) and the HTTP session."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        self._session.close()

    def __enter__(self) -> OnvifClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- interrogation -----------------------------------------------------------------

    def interrogate(self, xaddr: str, login: Login | None) -> DeviceReport:
        """Everything we want to know about one device, within `timeout` seconds overall."""
        started = time.monotonic()
        url = urlsplit(xaddr)
        address, port = url.hostname or "", url.port or (443 if url.scheme == "https" else 80)
        dev = _Device(address, started + self.timeout,
                      Transport(session=self._session, timeout=self.timeout,
                                operation_timeout=self.timeout))
        token = _ClockedToken(login) if login else None
        device = self._service("devicemgmt", xaddr, token, dev.transport)
        camera_utc, offset = self._clock(dev, device)
        if token is not None and offset is not None:
            token.offset_s = offset
        info = self._device_info(dev, device, login)
        mac = self._mac(dev, device)
        media = self._service("media", self._media_xaddr(dev, device, xaddr), token,
                              dev.transport)
        profiles, snapshot = self._media(dev, media)
        return DeviceReport(
            address=address, port=port, xaddr=xaddr, info=info, mac=mac, profiles=profiles,
            snapshot_uri=snapshot, clock_offset_s=offset, camera_utc=camera_utc,
            missing=tuple(dev.missing), seconds=round(time.monotonic() - started, 3))

    def _service(self, name: str, xaddr: str, token: _ClockedToken | None,
                 transport: Transport) -> Any:
        """A service proxy on xaddr over the shared WSDL (a per-device client is cheap)."""
        client = Client(self._document(name), wsse=token, transport=transport,
                        settings=self._settings)
        return client.create_service(SERVICES[name][1], xaddr)

    def _run(self, dev: _Device, name: str, operation: Callable[..., Any],
             first: bool = False, strict: bool = False, **kwargs: Any) -> Any:
        """Call an operation under the device's deadline; sort failures by kind.

        Returns None (and notes the operation as missing) when the device lacks it, unless
        `strict` (a Set* call): then any refusal raises DeviceRejected.
        """
        remaining = dev.deadline - time.monotonic()
        if remaining <= 0:
            raise DeviceUnreachable(dev.address, f"timed out before {name}")
        dev.transport.operation_timeout = remaining
        try:
            return operation(**kwargs)
        except UNREACHABLE_ERRORS as exc:
            raise DeviceUnreachable(dev.address, f"{name}: {_brief(exc)}") from None
        except zeep.exceptions.Fault as exc:
            if self._is_auth_fault(exc):
                raise DeviceNotAuthorized(dev.address, f"{name}: {exc.message}") from None
            if first and exc.code is None:  # zeep's "Unknown fault": the reply was not SOAP
                raise NotOnvifDevice(dev.address, f"{name}: not a SOAP reply") from None
            if strict:
                raise DeviceRejected(dev.address, f"{name}: {_fault_text(exc)}") from None
            return dev.absent(name, exc)
        except NOT_SOAP_ERRORS as exc:
            if getattr(exc, "status_code", None) in AUTH_STATUS:
                raise DeviceNotAuthorized(dev.address, f"{name}: HTTP {exc.status_code}") from None
            if first:
                raise NotOnvifDevice(dev.address, f"{name}: {_brief(exc)}") from None
            if strict:
                raise DeviceRejected(dev.address, f"{name}: {_brief(exc)}") from None
            return dev.absent(name, exc)
        except UNSUPPORTED_ERRORS as exc:
            if strict:
                raise DeviceRejected(dev.address, f"{name}: {_brief(exc)}") from None
            return dev.absent(name, exc)

    def _clock(self, dev: _Device, device: Any) -> tuple[datetime | None, float | None]:
        """Camera UTC and its offset from our clock (GetSystemDateAndTime needs no login)."""
        sent = time.time()
        reply = self._run(dev, "GetSystemDateAndTime", device.GetSystemDateAndTime, first=True)
        received = time.time()
        dev.clock = reply
        utc = self._camera_utc(reply)
        if utc is None:
            return None, None
        # The camera reports whole seconds: its true time lies in [t, t+1), so centre it;
        # our side of the comparison is the midpoint of the round trip.
        offset = utc.timestamp() + 0.5 - (sent + received) / 2
        return utc, round(offset, 3)

    def _device_info(self, dev: _Device, device: Any, login: Login | None) -> DeviceInfo:
        """GetDeviceInformation: the first call that needs a login."""
        if login is None:
            raise DeviceNotAuthorized(dev.address, "no credential configured for this device")
        reply = self._run(dev, "GetDeviceInformation", device.GetDeviceInformation)
        if reply is None:
            return DeviceInfo()
        return DeviceInfo(manufacturer=_str(reply.Manufacturer), model=_str(reply.Model),
                          firmware=_str(reply.FirmwareVersion), serial=_str(reply.SerialNumber),
                          hardware_id=_str(reply.HardwareId))

    def _mac(self, dev: _Device, device: Any) -> str | None:
        """MAC of the first enabled interface that reports one."""
        reply = self._run(dev, "GetNetworkInterfaces", device.GetNetworkInterfaces)
        for iface in reply or []:
            info = getattr(iface, "Info", None)
            if getattr(iface, "Enabled", True) and info is not None and info.HwAddress:
                return str(info.HwAddress).lower()
        return None

    def _media_xaddr(self, dev: _Device, device: Any, xaddr: str) -> str:
        """The media service URL, kept on the device's own host and scheme."""
        reply = self._run(dev, "GetCapabilities", device.GetCapabilities, Category="Media")
        media = getattr(reply, "Media", None) if reply is not None else None
        found = _str(getattr(media, "XAddr", None))
        if not found:
            return xaddr  # many devices serve every service on the device URL
        theirs, ours = urlsplit(found), urlsplit(xaddr)
        # Cameras behind NAT report internal addresses; never follow one to another host.
        return urlunsplit((ours.scheme, ours.netloc, theirs.path, theirs.query, ""))

    def _media(self, dev: _Device, media: Any) -> tuple[tuple[MediaProfile, ...], str | None]:
        """Profiles with encoder settings and stream URIs, and the first profile's snapshot."""
        reply = self._run(dev, "GetProfiles", media.GetProfiles)
        profiles = []
        for raw in reply or []:
            token = _str(getattr(raw, "token", None))
            if token:
                uri = self._run(dev, "GetStreamUri", media.GetStreamUri, ProfileToken=token,
                                StreamSetup={"Stream": "RTP-Unicast",
                                             "Transport": {"Protocol": "RTSP"}})
                profiles.append(self._profile(raw, token, _str(getattr(uri, "Uri", None))))
        snapshot = None
        if profiles:
            reply = self._run(dev, "GetSnapshotUri", media.GetSnapshotUri,
                              ProfileToken=profiles[0].token)
            snapshot = _str(getattr(reply, "Uri", None))
        return tuple(profiles), snapshot

    @staticmethod
    def _is_auth_fault(fault: zeep.exceptions.Fault) -> bool:
        """ONVIF's ter:NotAuthorized subcode (or a bare 'not authorized' reason)."""
        subcodes = [getattr(s, "localname", str(s)) for s in (fault.subcodes or [])]
        if any(code.rpartition(":")[2] == "NotAuthorized" for code in subcodes):
            return True
        return "not authorized" in (fault.message or "").lower()

    @staticmethod
    def _camera_utc(reply: Any) -> datetime | None:
        """The camera's UTC time from a GetSystemDateAndTime reply, or None."""
        utc = getattr(reply, "UTCDateTime", None) if reply is not None else None
        if utc is None or utc.Date is None or utc.Time is None:
            return None
        try:
            return datetime(utc.Date.Year, utc.Date.Month, utc.Date.Day, utc.Time.Hour,
                            utc.Time.Minute, utc.Time.Second, tzinfo=UTC)
        except (TypeError, ValueError):
            return None

    @staticmethod
    def _profile(raw: Any, token: str, stream_uri: str | None) -> MediaProfile:
        """Our MediaProfile from a zeep Profile."""
        enc = getattr(raw, "VideoEncoderConfiguration", None)
        res = getattr(enc, "Resolution", None)
        rate = getattr(enc, "RateControl", None)
        return MediaProfile(
            token=token, name=_str(getattr(raw, "Name", None)),
            width=_int(getattr(res, "Width", None)), height=_int(getattr(res, "Height", None)),
            fps=_num(getattr(rate, "FrameRateLimit", None)),
            codec=_str(getattr(enc, "Encoding", None)), stream_uri=stream_uri)


    # -- device settings (encoder, NTP, time zone, hostname) --------------------------------

    def read_settings(self, xaddr: str, login: Login | None, options: bool = True,
                      deadline: float | None = None) -> DeviceSettings:
        """The managed settings of one device; `options` adds each encoder's allowed values."""
        dev, device, media = self._open(xaddr, login, deadline)
        encoders = self._encoders(dev, media)
        opts = tuple((e.profile, self._encoder_options(dev, media, e)) for e in encoders) \
            if options else ()
        ntp = self._run(dev, "GetNTP", device.GetNTP)
        host = self._run(dev, "GetHostname", device.GetHostname)
        scopes = self._run(dev, "GetScopes", device.GetScopes)
        clock = dev.clock
        return DeviceSettings(
            address=dev.address, encoders=encoders, options=opts,
            ntp_servers=_ntp_hosts(ntp), ntp_from_dhcp=_bool(getattr(ntp, "FromDHCP", None)),
            time_mode=_str(getattr(clock, "DateTimeType", None)),
            timezone=_str(getattr(getattr(clock, "TimeZone", None), "TZ", None)),
            hostname=_str(getattr(host, "Name", None)), name=_scope_name(scopes),
            missing=tuple(dev.missing))

    def write_settings(self, xaddr: str, login: Login | None, change: SettingsChange,
                       deadline: float | None = None) -> None:
        """Push a change; raises DeviceRejected naming the call and the device's fault."""
        dev, device, media = self._open(xaddr, login, deadline)
        for enc in change.encoders:
            self._set_encoder(dev, media, enc)
        if change.ntp_servers is not None:
            self._run(dev, "SetNTP", device.SetNTP, strict=True, FromDHCP=False,
                      NTPManual=[_network_host(h) for h in change.ntp_servers])
        if change.time_mode:
            tz = {"TZ": change.timezone} if change.timezone else None
            self._run(dev, "SetSystemDateAndTime", device.SetSystemDateAndTime, strict=True,
                      DateTimeType=change.time_mode, DaylightSavings=False, TimeZone=tz)
        if change.hostname:
            self._run(dev, "SetHostname", device.SetHostname, strict=True, Name=change.hostname)
        if change.name:
            self._set_name(dev, device, change.name)

    def _set_name(self, dev: _Device, device: Any, name: str) -> None:
        """Replace the name scope, keeping the device's other configurable scopes."""
        scopes = self._run(dev, "GetScopes", device.GetScopes, strict=True) or []
        keep = [str(s.ScopeItem) for s in scopes if str(s.ScopeDef) == "Configurable"
                and not str(s.ScopeItem).startswith(NAME_SCOPE)]
        self._run(dev, "SetScopes", device.SetScopes, strict=True,
                  Scopes=[NAME_SCOPE + quote(name, safe="")] + keep)

    def _open(self, xaddr: str, login: Login | None,
              deadline: float | None) -> tuple[_Device, Any, Any]:
        """Device and media proxies with the login dated on the camera's clock."""
        if login is None:
            raise DeviceNotAuthorized(urlsplit(xaddr).hostname or xaddr,
                                      "no credential configured for this device")
        dev = _Device(urlsplit(xaddr).hostname or "",
                      deadline or time.monotonic() + self.timeout,
                      Transport(session=self._session, timeout=self.timeout,
                                operation_timeout=self.timeout))
        token = _ClockedToken(login)
        device = self._service("devicemgmt", xaddr, token, dev.transport)
        _utc, offset = self._clock(dev, device)
        token.offset_s = offset or 0.0
        media = self._service("media", self._media_xaddr(dev, device, xaddr), token,
                              dev.transport)
        return dev, device, media

    def _encoders(self, dev: _Device, media: Any) -> tuple[EncoderSettings, ...]:
        """Each profile's video encoder configuration, from GetProfiles."""
        out = []
        for raw in self._run(dev, "GetProfiles", media.GetProfiles) or []:
            enc = getattr(raw, "VideoEncoderConfiguration", None)
            profile = _str(getattr(raw, "token", None))
            if enc is None or not profile:
                continue
            res, rate = getattr(enc, "Resolution", None), getattr(enc, "RateControl", None)
            h264 = getattr(enc, "H264", None)
            out.append(EncoderSettings(
                profile=profile, config_token=_str(getattr(enc, "token", None)) or "",
                encoding=_str(getattr(enc, "Encoding", None)),
                width=_int(getattr(res, "Width", None)), height=_int(getattr(res, "Height", None)),
                fps=_int(getattr(rate, "FrameRateLimit", None)),
                bitrate_kbps=_int(getattr(rate, "BitrateLimit", None)),
                gop=_int(getattr(h264, "GovLength", None)),
                h264_profile=_str(getattr(h264, "H264Profile", None))))
        return tuple(out)

    def _encoder_options(self, dev: _Device, media: Any, enc: EncoderSettings) -> EncoderOptions:
        """H.264 options of one encoder (empty when the device does not say)."""
        reply = self._run(dev, "GetVideoEncoderConfigurationOptions",
                          media.GetVideoEncoderConfigurationOptions,
                          ConfigurationToken=enc.config_token, ProfileToken=enc.profile)
        h264 = getattr(reply, "H264", None)
        if h264 is None:
            return EncoderOptions()
        ext = getattr(getattr(reply, "Extension", None), "H264", None)
        sizes = tuple((int(r.Width), int(r.Height))
                      for r in getattr(h264, "ResolutionsAvailable", None) or [])
        return EncoderOptions(
            resolutions=sizes, fps_range=_range(getattr(h264, "FrameRateRange", None)),
            gop_range=_range(getattr(h264, "GovLengthRange", None)),
            bitrate_range=_range(getattr(ext, "BitrateRange", None))
            or _raw_bitrate_range(getattr(reply, "Extension", None)),
            h264_profiles=tuple(str(p) for p in getattr(h264, "H264ProfilesSupported", None)
                                or []))

    def _set_encoder(self, dev: _Device, media: Any, change: EncoderChange) -> None:
        """Read the configuration, change the asked fields, write it back persistently."""
        conf = self._run(dev, "GetVideoEncoderConfiguration",
                         media.GetVideoEncoderConfiguration, strict=True,
                         ConfigurationToken=change.config_token)
        if conf is None or conf.Resolution is None or conf.RateControl is None:
            raise DeviceRejected(dev.address, f"{change.profile}: encoder configuration "
                                 "lacks resolution or rate control")
        if change.width is not None:
            conf.Resolution.Width, conf.Resolution.Height = change.width, change.height
        if change.fps is not None:
            conf.RateControl.FrameRateLimit = change.fps
        if change.bitrate_kbps is not None:
            conf.RateControl.BitrateLimit = change.bitrate_kbps
        if (change.gop is not None or change.h264_profile) and conf.H264 is None:
            raise DeviceRejected(dev.address, f"{change.profile}: no H.264 settings to change")
        if change.gop is not None:
            conf.H264.GovLength = change.gop
        if change.h264_profile:
            conf.H264.H264Profile = change.h264_profile
        self._run(dev, "SetVideoEncoderConfiguration", media.SetVideoEncoderConfiguration,
                  strict=True, Configuration=conf, ForcePersistence=True)


@dataclass
class _Device:
    """Per-interrogation bookkeeping: deadline, HTTP transport, operations found missing."""

    address: str
    deadline: float
    transport: Transport
    missing: list[str] = field(default_factory=list)
    clock: Any = None  # the GetSystemDateAndTime reply (time mode and zone live there)

    def absent(self, name: str, exc: Exception) -> None:
        """Record an unsupported operation; the interrogation goes on without it."""
        log.debug("%s: %s unsupported: %s", self.address, name, _brief(exc))
        if name not in self.missing:
            self.missing.append(name)
        return None


def _str(value: Any) -> str | None:
    """Stripped text of a scalar, or None when empty."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _int(value: Any) -> int | None:
    return int(value) if value is not None else None


def _bool(value: Any) -> bool | None:
    return bool(value) if value is not None else None


def _range(value: Any) -> tuple[int, int] | None:
    """(Min, Max) of a tt:IntRange, or None."""
    if value is None or value.Min is None or value.Max is None:
        return None
    return int(value.Min), int(value.Max)


def _scope_name(scopes: Any) -> str | None:
    """The device name from its name scope (percent-decoded), or None."""
    for scope in scopes or []:
        item = str(getattr(scope, "ScopeItem", "") or "")
        if item.startswith(NAME_SCOPE):
            return unquote(item.removeprefix(NAME_SCOPE)) or None
    return None


def _raw_bitrate_range(extension: Any) -> tuple[int, int] | None:
    """BitrateRange from Extension/H264 left as raw XML: the schema's leading xs:any
    (##other) makes zeep swallow tt:H264 unparsed."""
    for element in getattr(extension, "_value_1", None) or []:
        if getattr(element, "tag", "").endswith("}H264"):
            low = element.findtext("{*}BitrateRange/{*}Min")
            high = element.findtext("{*}BitrateRange/{*}Max")
            if low and high and low.strip().isdigit() and high.strip().isdigit():
                return int(low), int(high)
    return None


def _ntp_hosts(reply: Any) -> tuple[str, ...] | None:
    """Manually set NTP servers of a GetNTP reply (names or addresses), or None."""
    if reply is None:
        return None
    hosts = []
    for host in getattr(reply, "NTPManual", None) or []:
        value = _str(host.DNSname) or _str(host.IPv4Address) or _str(host.IPv6Address)
        if value:
            hosts.append(value)
    return tuple(hosts)


def _network_host(host: str) -> dict[str, str]:
    """A tt:NetworkHost for SetNTP: IPv4 for dotted quads, DNS for names."""
    parts = host.split(".")
    if len(parts) == 4 and all(p.isdigit() for p in parts):
        return {"Type": "IPv4", "IPv4Address": host}
    if ":" in host:
        return {"Type": "IPv6", "IPv6Address": host}
    return {"Type": "DNS", "DNSname": host}


def _fault_text(fault: zeep.exceptions.Fault) -> str:
    """`ter:InvalidArgVal/ter:ConfigModify: reason` of a SOAP fault."""
    codes = "/".join(getattr(s, "localname", str(s)) for s in (fault.subcodes or []))
    return f"{codes}: {fault.message}" if codes else str(fault.message)


def _num(value: Any) -> float | None:
    return float(value) if value is not None else None


# urllib3 buries the cause in a long "Max retries exceeded ... Caused by ..." message.
_CAUSES = (("Connection refused", "connection refused"), ("timed out", "timed out"),
           ("No route to host", "no route to host"), ("Connection reset", "connection reset"))


def _brief(exc: Exception) -> str:
    """A one-line description of an exception for logs and findings."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, requests.ConnectionError | requests.Timeout):
        for needle, short in _CAUSES:
            if needle in text:
                return short
    return text[:200]
