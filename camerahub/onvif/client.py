"""The ONVIF adapter: the only code in camerahub that sees onvif-zeep / zeep objects.

onvif-zeep's ONVIFCamera builds fresh zeep clients for every device and calls
GetCapabilities plus an event subscription on construction, which is slow and chatty for a
hundred cameras. We use its WSDL files instead: each WSDL is parsed once per process into a
zeep Document, and every device gets cheap per-device clients (sharing that Document, one
HTTP session and its connection pools) with service proxies bound to the device's address
via `create_service`.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import logging
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ParamSpec, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

import requests
import urllib3
import zeep.exceptions
from lxml import etree
from requests.adapters import HTTPAdapter
from zeep import Client, Settings, Transport
from zeep.wsdl import Document
from zeep.wsse.username import UsernameToken

from camerahub.tlscontext import camera_tls_context

from . import answers
from .answers import NAME_SCOPE, BadAnswer
from .errors import (
    DeviceNotAuthorized,
    DeviceRejected,
    DeviceUnreachable,
    DeviceUntrusted,
    MalformedAnswer,
    NotOnvifDevice,
    OnvifError,
)
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

MAX_RESPONSE_BYTES = 4 << 20  # the largest ONVIF answer we read (GetProfiles is ~10 kB)
_READ_CHUNK = 64 << 10
P = ParamSpec("P")
R = TypeVar("R")


class ResponseTooLarge(requests.RequestException):
    """A device sent more than MAX_RESPONSE_BYTES: not something we parse."""


class UndecodableBody(requests.RequestException):
    """A body whose Content-Encoding does not decode (gzip that is not gzip)."""


class _CappedAdapter(HTTPAdapter):
    """Reads at most MAX_RESPONSE_BYTES of a body, and only until the call's timeout has
    passed in total: a hostile device can neither fill memory nor trickle an answer forever
    (the socket's read timeout alone restarts with every byte that arrives).

    https:// devices are verified with the given context alone (camerahub.tlscontext: the
    system's CAs or the deployment's CA file, as for rtsps://), never with requests' own
    bundle, which knows neither.
    """

    def __init__(self, tls: ssl.SSLContext, **kwargs: Any) -> None:
        self._tls = tls
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._tls
        super().init_poolmanager(*args, **kwargs)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        """Always verify, with the context's CAs only (requests would add its bundle's)."""
        conn.cert_reqs = "CERT_REQUIRED"
        conn.ca_certs = conn.ca_cert_dir = None

    def send(self, request, **kwargs):
        """Stream the body and stop past the cap or the deadline; keep-alive is kept for
        normal answers."""
        kwargs["stream"] = True
        deadline = time.monotonic() + _read_budget(kwargs.get("timeout"))
        response = super().send(request, **kwargs)
        try:
            body = _read_body(response.raw, deadline)
        except requests.RequestException:  # ours: too large or too slow (before OSError,
            response.close()               # which RequestException derives from)
            raise
        except urllib3.exceptions.ReadTimeoutError as exc:  # raw reads bypass requests'
            response.close()                                # own translation
            raise requests.ReadTimeout(str(exc)) from None
        except urllib3.exceptions.DecodeError as exc:
            response.close()
            raise UndecodableBody(f"undecodable body: {exc}") from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            response.close()
            raise requests.ConnectionError(str(exc)) from None
        response._content = body
        response._content_consumed = True
        response.raw.release_conn()
        return response


def _read_budget(timeout: Any) -> float:
    """Seconds a whole body may take: the call's read timeout (zeep passes one number)."""
    if isinstance(timeout, tuple):
        timeout = timeout[-1]
    return float(timeout) if isinstance(timeout, int | float) and timeout > 0 else 60.0


def _read_body(raw: urllib3.HTTPResponse, deadline: float) -> bytes:
    """The body as it arrives (read1: whatever is there), up to the cap and the deadline."""
    chunks: list[bytes] = []
    size = 0
    while True:
        if time.monotonic() > deadline:
            raise requests.ReadTimeout("answer still arriving at the deadline: timed out")
        chunk = raw.read1(_READ_CHUNK, decode_content=True)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise ResponseTooLarge(f"answer larger than {MAX_RESPONSE_BYTES} bytes")
        chunks.append(chunk)


_parsers = threading.local()  # an lxml parser must not be shared between threads


def _document_parser() -> etree.XMLParser:
    """This thread's strict parser: no recovery, entities, DTDs or network.

    zeep parses answers in lxml's recover mode when strict=False (which cameras' schema
    deviations need): a truncated answer would be half-read as if complete, or parsed to
    nothing at all. Every answer is first parsed as a whole document by this parser.
    """
    parser = getattr(_parsers, "strict", None)
    if parser is None:
        parser = _parsers.strict = etree.XMLParser(
            resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False,
            recover=False)
    return parser


class _WholeAnswerTransport(Transport):
    """zeep's transport, refusing answers that are not one well-formed XML document, and
    SOAP answers that answer nothing or another operation (zeep, lenient, reads those as
    if they were the answer asked for)."""

    def post_xml(self, address, envelope, headers):
        """Send as zeep does; a malformed document is a TransportError (status kept, so an
        HTTP 401 page still means "not authorized"), a wrong answer a BadAnswer."""
        response = super().post_xml(address, envelope, headers)
        if not response.content:
            return response
        try:
            root = etree.fromstring(response.content, _document_parser())  # noqa: S320
        except etree.XMLSyntaxError as exc:
            raise zeep.exceptions.TransportError(
                f"malformed XML ({exc})", status_code=response.status_code) from None
        if response.status_code == 200:
            _check_answered(envelope, root)
        return response


def _check_answered(request: etree._Element, answer: etree._Element) -> None:
    """BadAnswer unless the answer's Body holds `<Operation>Response` (or a Fault)."""
    if etree.QName(answer).localname != "Envelope":
        return  # not SOAP at all: zeep says so in its own terms
    body = next((el for el in answer if _local(el) == "Body"), None)
    found = next((el for el in body if isinstance(el.tag, str)), None) \
        if body is not None else None
    if found is None:
        raise BadAnswer("empty SOAP Body")
    asked = next((el for el in request.iter() if _local(el) == "Body"), None)
    operation = next((_local(el) for el in asked if isinstance(el.tag, str)), None) \
        if asked is not None else None
    if operation and _local(found) not in (f"{operation}Response", "Fault"):
        raise BadAnswer(f"answered {_local(found)[:64]} instead")


def _local(element: etree._Element) -> str:
    """The local name of an element ('' for comments and processing instructions)."""
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


# Nothing usable came back at the TCP/HTTP level: the device is off, unplugged or too slow.
# Transient by nature, so the caller marks the camera offline and simply tries next round.
UNREACHABLE_ERRORS = (requests.ConnectionError, requests.Timeout, ConnectionError, TimeoutError)
# HTTP answered, but not with SOAP we can read: a web server, a printer, a wrong port.
# Retrying will not help; the address is reported as "not ONVIF".
NOT_SOAP_ERRORS = (zeep.exceptions.TransportError, zeep.exceptions.XMLSyntaxError,
                   zeep.exceptions.XMLParseError, zeep.exceptions.DTDForbidden,
                   zeep.exceptions.EntitiesForbidden, zeep.exceptions.ExternalReferenceForbidden,
                   requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema,
                   requests.exceptions.TooManyRedirects, ResponseTooLarge, UndecodableBody)
# The device understood the request but not this operation or its answer does not fit the
# schema: record the capability as absent and carry on with the rest (a partial result).
UNSUPPORTED_ERRORS = (zeep.exceptions.Fault, zeep.exceptions.ValidationError,
                      zeep.exceptions.LookupError, zeep.exceptions.UnexpectedElementError)
# SOAP came back, but not what the operation promises: an empty Body (zeep's IndexError), an
# element of the wrong shape, a value of the wrong type or size. Our readers (answers.py)
# raise BadAnswer; the rest is what zeep itself raises on such input.
MALFORMED_ERRORS = (BadAnswer, LookupError, AttributeError, TypeError, ValueError,
                    ArithmeticError, RecursionError, zeep.exceptions.Error, etree.Error)
# HTTP status codes that mean "who are you?" even without a SOAP fault (HTTP digest cameras).
AUTH_STATUS = (401, 403)


class _QuietConversionErrors(logging.Filter):
    """zeep logs each value it cannot convert (a device answering text where a number is
    due) at ERROR, with a traceback and the whole value, then carries on with None, which
    we read as "not said". A device must not fill our logs so: one short DEBUG line."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Downgrade the record in place (handlers then skip it below DEBUG)."""
        if record.exc_info and record.levelno >= logging.ERROR:
            reason = _brief(record.exc_info[1]) if record.exc_info[1] else "?"
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            record.msg, record.args = "zeep could not convert a value: %s", (reason[:120],)
            record.exc_info = record.exc_text = None
        return True


logging.getLogger("zeep.xsd.types.simple").addFilter(_QuietConversionErrors())


def default_wsdl_dir() -> Path:
    """onvif-zeep's WSDL folder (site-packages/wsdl), found without importing onvif.

    Importing onvif.client would call logging.basicConfig(INFO) as a side effect.
    """
    spec = importlib.util.find_spec("onvif")
    if spec is None or spec.origin is None:
        raise RuntimeError("onvif-zeep is not installed")
    return Path(spec.origin).resolve().parent.parent / "wsdl"


def _typed(method: Callable[P, R]) -> Callable[P, R]:
    """Let only our OnvifError kinds out of a public call. Whatever else escapes is an answer
    nobody foresaw (or a bug of ours): logged with its traceback, raised as MalformedAnswer."""

    @functools.wraps(method)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except OnvifError:
            raise
        except Exception as exc:
            xaddr = str(kwargs.get("xaddr", args[1] if len(args) > 1 else "?"))
            log.warning("%s: %s failed unexpectedly", xaddr, method.__name__, exc_info=True)
            address = urlsplit(xaddr).hostname or xaddr
            raise MalformedAnswer(address, _unforeseen(exc)) from None

    return call


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
                 wsdl_dir: Path | None = None, ca_file: str | None = None):
        self.timeout = float(timeout)
        self.wsdl_dir = Path(wsdl_dir) if wsdl_dir else default_wsdl_dir()
        self.max_workers = max_workers
        # https:// devices: always verified, host name or address included, against
        # defaults.tls_ca_file when given (read now, once), else the system's CAs
        try:
            tls = camera_tls_context(ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"the cameras' CA file {ca_file} cannot be used: {exc}") from None
        self._session = self._make_session(max_workers, tls)
        # Responses come from devices on the network: no DTDs, entities or external refs.
        self._settings = Settings(strict=False, xml_huge_tree=False, forbid_dtd=True,
                                  forbid_entities=True, forbid_external=True)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    @staticmethod
    def _make_session(max_workers: int, tls: ssl.SSLContext) -> requests.Session:
        """One HTTP session for all devices: keep-alive per device, no proxies from env."""
        session = requests.Session()
        session.trust_env = False  # an http_proxy variable must never reroute camera traffic
        # A redirect is the device sending our SOAP (WS-Security token included, on 307/308)
        # to a host of its choosing: never followed; the answer counts as "not ONVIF".
        session.max_redirects = 0
        adapter = _CappedAdapter(tls, pool_connections=256, pool_maxsize=max(4, max_workers),
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

    @_typed
    def interrogate(self, xaddr: str, login: Login | None) -> DeviceReport:
        """Everything we want to know about one device, within `timeout` seconds overall."""
        started = time.monotonic()
        url = urlsplit(xaddr)
        address, port = url.hostname or "", url.port or (443 if url.scheme == "https" else 80)
        dev = _Device(address, started + self.timeout, self._transport())
        token = _ClockedToken(login) if login else None
        device = self._service("devicemgmt", xaddr, token, dev.transport)
        camera_utc, offset = self._clock(dev, device)
        if token is not None and offset is not None:
            token.offset_s = offset
        info = self._device_info(dev, device, login)
        mac = self._run(dev, "GetNetworkInterfaces", device.GetNetworkInterfaces,
                        read=answers.mac)
        media = self._service("media", self._media_xaddr(dev, device, xaddr), token,
                              dev.transport)
        profiles, snapshot = self._media(dev, media)
        return DeviceReport(
            address=address, port=port, xaddr=xaddr, info=info, mac=mac, profiles=profiles,
            snapshot_uri=snapshot, clock_offset_s=offset, camera_utc=camera_utc,
            missing=tuple(dev.missing), seconds=round(time.monotonic() - started, 3),
            malformed=tuple(dev.malformed))

    def _transport(self) -> Transport:
        """A per-device zeep transport over the shared, capped HTTP session."""
        return _WholeAnswerTransport(session=self._session, timeout=self.timeout,
                                     operation_timeout=self.timeout)

    def _service(self, name: str, xaddr: str, token: _ClockedToken | None,
                 transport: Transport) -> Any:
        """A service proxy on xaddr over the shared WSDL (a per-device client is cheap)."""
        client = Client(self._document(name), wsse=token, transport=transport,
                        settings=self._settings)
        return client.create_service(SERVICES[name][1], xaddr)

    def _run(self, dev: _Device, name: str, operation: Callable[..., Any],
             read: Callable[[Any], Any] | None = None, first: bool = False,
             strict: bool = False, **kwargs: Any) -> Any:
        """Call an operation under the device's deadline and read its answer with `read`;
        sort failures by kind.

        Returns None (and notes the operation as missing) when the device lacks it or
        answers something unusable, unless `strict` (a Set* call and what it reads back):
        then a refusal raises DeviceRejected and an unusable answer MalformedAnswer.
        """
        remaining = dev.deadline - time.monotonic()
        if remaining <= 0:
            raise DeviceUnreachable(dev.address, f"timed out before {name}")
        dev.transport.operation_timeout = remaining
        try:
            reply = operation(**kwargs)
            return read(reply) if read is not None else reply
        except requests.exceptions.SSLError as exc:  # before UNREACHABLE: it is one of them
            raise DeviceUntrusted(dev.address, f"{name}: {_tls_reason(exc)}") from None
        except UNREACHABLE_ERRORS as exc:
            raise DeviceUnreachable(dev.address, f"{name}: {_brief(exc)}") from None
        except zeep.exceptions.Fault as exc:
            if self._is_auth_fault(exc):
                raise DeviceNotAuthorized(dev.address, f"{name}: {exc.message}") from None
            if first and exc.code is None:  # zeep's "Unknown fault": the reply was not SOAP
                raise NotOnvifDevice(dev.address, f"{name}: not a SOAP reply") from None
            if strict:
                raise DeviceRejected(dev.address, f"{name}: {_fault_text(exc)}") from None
            return dev.absent(name, _brief(exc))
        except NOT_SOAP_ERRORS as exc:
            if getattr(exc, "status_code", None) in AUTH_STATUS:
                raise DeviceNotAuthorized(dev.address, f"{name}: HTTP {exc.status_code}") from None
            if first:
                raise NotOnvifDevice(dev.address, f"{name}: {_brief(exc)}") from None
            if strict:
                raise DeviceRejected(dev.address, f"{name}: {_brief(exc)}") from None
            return dev.absent(name, _brief(exc), malformed=True)
        except UNSUPPORTED_ERRORS as exc:
            if strict:
                raise DeviceRejected(dev.address, f"{name}: {_brief(exc)}") from None
            return dev.absent(name, _brief(exc))
        except MALFORMED_ERRORS as exc:
            reason = _brief(exc) if isinstance(exc, BadAnswer) else _unforeseen(exc)
            if strict:
                raise MalformedAnswer(dev.address, f"{name}: {reason}") from None
            return dev.absent(name, reason, malformed=True)

    def _clock(self, dev: _Device, device: Any) -> tuple[datetime | None, float | None]:
        """Camera UTC and its offset from our clock (GetSystemDateAndTime needs no login)."""
        sent = time.time()
        clock = self._run(dev, "GetSystemDateAndTime", device.GetSystemDateAndTime,
                          read=answers.clock, first=True)
        received = time.time()
        dev.clock = clock
        if clock is None or clock.utc is None:
            return None, None
        # The camera reports whole seconds: its true time lies in [t, t+1), so centre it;
        # our side of the comparison is the midpoint of the round trip.
        offset = clock.utc.timestamp() + 0.5 - (sent + received) / 2
        return clock.utc, round(offset, 3)

    def _device_info(self, dev: _Device, device: Any, login: Login | None) -> DeviceInfo:
        """GetDeviceInformation: the first call that needs a login."""
        if login is None:
            raise DeviceNotAuthorized(dev.address, "no credential configured for this device")
        info = self._run(dev, "GetDeviceInformation", device.GetDeviceInformation,
                         read=answers.device_info)
        return info or DeviceInfo()

    def _media_xaddr(self, dev: _Device, device: Any, xaddr: str) -> str:
        """The media service URL, kept on the device's own host and scheme."""
        found = self._run(dev, "GetCapabilities", device.GetCapabilities,
                          read=answers.media_url, Category="Media")
        if not found:
            return xaddr  # many devices serve every service on the device URL
        theirs, ours = urlsplit(found), urlsplit(xaddr)
        # Cameras behind NAT report internal addresses; never follow one to another host.
        return urlunsplit((ours.scheme, ours.netloc, theirs.path, theirs.query, ""))

    def _media(self, dev: _Device, media: Any) -> tuple[tuple[MediaProfile, ...], str | None]:
        """Profiles with encoder settings and stream URIs, and the first profile's snapshot."""
        found = self._run(dev, "GetProfiles", media.GetProfiles, read=answers.profiles) or []
        profiles = []
        for profile in found:
            uri = self._run(dev, "GetStreamUri", media.GetStreamUri, read=answers.media_uri,
                            ProfileToken=profile.token,
                            StreamSetup={"Stream": "RTP-Unicast",
                                         "Transport": {"Protocol": "RTSP"}})
            profiles.append(dataclasses.replace(profile, stream_uri=uri))
        snapshot = None
        if profiles:
            snapshot = self._run(dev, "GetSnapshotUri", media.GetSnapshotUri,
                                 read=answers.media_uri, ProfileToken=profiles[0].token)
        return tuple(profiles), snapshot

    @staticmethod
    def _is_auth_fault(fault: zeep.exceptions.Fault) -> bool:
        """ONVIF's ter:NotAuthorized subcode (or a bare 'not authorized' reason)."""
        subcodes = [getattr(s, "localname", str(s)) for s in (fault.subcodes or [])]
        if any(code.rpartition(":")[2] == "NotAuthorized" for code in subcodes):
            return True
        return "not authorized" in str(fault.message or "").lower()

    # -- device settings (encoder, NTP, time zone, hostname) --------------------------------

    @_typed
    def read_settings(self, xaddr: str, login: Login | None, options: bool = True,
                      deadline: float | None = None) -> DeviceSettings:
        """The managed settings of one device; `options` adds each encoder's allowed values."""
        dev, device, media = self._open(xaddr, login, deadline)
        encoders = self._run(dev, "GetProfiles", media.GetProfiles, read=answers.encoders) \
            or ()
        opts = tuple((e.profile, self._encoder_options(dev, media, e)) for e in encoders) \
            if options else ()
        ntp_servers, ntp_from_dhcp = self._run(dev, "GetNTP", device.GetNTP,
                                               read=answers.ntp) or (None, None)
        host = self._run(dev, "GetHostname", device.GetHostname, read=answers.hostname)
        scopes = self._run(dev, "GetScopes", device.GetScopes, read=answers.scopes) or []
        clock = dev.clock
        return DeviceSettings(
            address=dev.address, encoders=encoders, options=opts,
            ntp_servers=ntp_servers, ntp_from_dhcp=ntp_from_dhcp,
            time_mode=clock.mode if clock else None, timezone=clock.timezone if clock else None,
            hostname=host, name=answers.scope_name(scopes), missing=tuple(dev.missing))

    @_typed
    def write_settings(self, xaddr: str, login: Login | None, change: SettingsChange,
                       deadline: float | None = None) -> None:
        """Push a change; raises DeviceRejected naming the call and the device's fault, or
        MalformedAnswer when what the device answered cannot be used."""
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
        scopes = self._run(dev, "GetScopes", device.GetScopes, read=answers.scopes,
                           strict=True)
        keep = [item for kind, item in scopes
                if kind == "Configurable" and not item.startswith(NAME_SCOPE)]
        self._run(dev, "SetScopes", device.SetScopes, strict=True,
                  Scopes=[NAME_SCOPE + quote(name, safe="")] + keep)

    def _open(self, xaddr: str, login: Login | None,
              deadline: float | None) -> tuple[_Device, Any, Any]:
        """Device and media proxies with the login dated on the camera's clock."""
        if login is None:
            raise DeviceNotAuthorized(urlsplit(xaddr).hostname or xaddr,
                                      "no credential configured for this device")
        dev = _Device(urlsplit(xaddr).hostname or "",
                      deadline or time.monotonic() + self.timeout, self._transport())
        token = _ClockedToken(login)
        device = self._service("devicemgmt", xaddr, token, dev.transport)
        _utc, offset = self._clock(dev, device)
        token.offset_s = offset or 0.0
        media = self._service("media", self._media_xaddr(dev, device, xaddr), token,
                              dev.transport)
        return dev, device, media

    def _encoder_options(self, dev: _Device, media: Any, enc: EncoderSettings) -> EncoderOptions:
        """H.264 options of one encoder (empty when the device does not say)."""
        found = self._run(dev, "GetVideoEncoderConfigurationOptions",
                          media.GetVideoEncoderConfigurationOptions,
                          read=answers.encoder_options,
                          ConfigurationToken=enc.config_token, ProfileToken=enc.profile)
        return found or EncoderOptions()

    def _set_encoder(self, dev: _Device, media: Any, change: EncoderChange) -> None:
        """Read the configuration, change the asked fields, write it back persistently."""
        conf = self._run(dev, "GetVideoEncoderConfiguration",
                         media.GetVideoEncoderConfiguration, read=answers.encoder_configuration,
                         strict=True, ConfigurationToken=change.config_token)
        if change.width is not None:
            conf.Resolution.Width, conf.Resolution.Height = change.width, change.height
        if change.fps is not None:
            conf.RateControl.FrameRateLimit = change.fps
        if change.bitrate_kbps is not None:
            conf.RateControl.BitrateLimit = change.bitrate_kbps
        if (change.gop is not None or change.h264_profile) and getattr(conf, "H264", None) is None:
            raise DeviceRejected(dev.address, f"{change.profile}: no H.264 settings to change")
        if change.gop is not None:
            conf.H264.GovLength = change.gop
        if change.h264_profile:
            conf.H264.H264Profile = change.h264_profile
        self._run(dev, "SetVideoEncoderConfiguration", media.SetVideoEncoderConfiguration,
                  strict=True, Configuration=conf, ForcePersistence=True)


@dataclass
class _Device:
    """Per-call bookkeeping: deadline, HTTP transport, operations found missing or unusable."""

    address: str
    deadline: float
    transport: Transport
    missing: list[str] = field(default_factory=list)
    malformed: list[str] = field(default_factory=list)  # "GetProfiles: no profile"
    clock: answers.Clock | None = None  # what GetSystemDateAndTime said (mode and zone too)

    def absent(self, name: str, reason: str, malformed: bool = False) -> None:
        """Record an operation as unavailable; the call goes on without it. `malformed`:
        the device answered, but nothing usable (not the same as "not supported")."""
        log.debug("%s: %s %s: %s", self.address, name,
                  "answered garbage" if malformed else "unsupported", reason)
        if name not in self.missing:
            self.missing.append(name)
            if malformed:
                self.malformed.append(f"{name}: {reason}")
        return None


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


# urllib3 buries the cause in a long "Max retries exceeded ... Caused by ..." message.
_CAUSES = (("Connection refused", "connection refused"), ("timed out", "timed out"),
           ("No route to host", "no route to host"), ("Connection reset", "connection reset"))


def _brief(exc: BaseException) -> str:
    """A one-line description of an exception for logs and findings."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, requests.ConnectionError | requests.Timeout):
        for needle, short in _CAUSES:
            if needle in text:
                return short
    return text[:200]


def _tls_reason(exc: BaseException) -> str:
    """Why an HTTPS device was not trusted, in a few words."""
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text:
        detail = text.split("certificate verify failed:", 1)[-1].split("(_ssl", 1)[0]
        return f"certificate not trusted ({detail.strip(' ()')})"
    if "WRONG_VERSION_NUMBER" in text or "wrong version number" in text:
        return "no TLS on this port (plain HTTP?)"
    return f"TLS handshake failed ({_brief(exc)})"


def _unforeseen(exc: BaseException) -> str:
    """The reason given for an answer that broke zeep or our reading of it."""
    return f"unreadable answer ({type(exc).__name__}: {_brief(exc)})"
