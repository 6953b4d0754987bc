"""WS-Discovery (2005/04) Probe over UDP: multicast on a named interface, or directed unicast.

Replies come from anything on the network, so each datagram is parsed defensively: a size
limit, an XML parser that neither loads DTDs nor expands entities (documents carrying a
DOCTYPE are refused outright), and strict checks that it is a ProbeMatches answering *our*
Probe. Anything else is dropped with a debug log line; nothing a datagram holds can end
the probe early or raise out of it.
"""

from __future__ import annotations

import fcntl
import logging
import select
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from urllib.parse import SplitResult, urlsplit, urlunsplit

from lxml import etree

from .errors import ProbeError
from .models import ProbeMatch

log = logging.getLogger(__name__)

PORT = 3702
GROUP = "239.255.255.250"
NS_SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
NS_SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
NS_WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
NS_WSD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
NS_DN = "http://www.onvif.org/ver10/network/wsdl"
ACTION_PROBE = f"{NS_WSD}/Probe"
ACTION_MATCHES = f"{NS_WSD}/ProbeMatches"
DISCOVERY_URN = "urn:schemas-xmlsoap-org:ws:2005:04:discovery"

MAX_REPLY_BYTES = 32 * 1024  # a ProbeMatch is ~1.5 kB; larger datagrams are not replies
MAX_MATCHES = 16  # ProbeMatch elements read from one reply
MAX_FIELD = 2048  # characters kept of EndpointReference, XAddrs, Scopes
SEND_BATCH = 64  # directed probes sent back to back before draining replies
SEND_GAP_S = 0.002  # pause between batches so a large range does not burst the link
RCVBUF = 1 << 20  # room for a hundred replies arriving in the same millisecond
SIOCGIFADDR = 0x8915

# No DTDs, no entities, no network, no huge trees: the reply comes from anyone on the LAN.
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                          dtd_validation=False, huge_tree=False, remove_comments=True,
                          remove_pis=True)


class InvalidReply(ValueError):
    """A datagram that is not a usable ProbeMatches for our Probe."""


def interface_address(name: str) -> str:
    """The IPv4 address of a network interface, or ProbeError."""
    if not name or len(name) > 15 or "/" in name:
        raise ProbeError(f"invalid interface name {name!r}")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            raw = fcntl.ioctl(sock.fileno(), SIOCGIFADDR, struct.pack("256s", name.encode()))
        except OSError as exc:
            raise ProbeError(f"interface {name!r} has no IPv4 address ({exc.strerror})") from None
    return socket.inet_ntoa(raw[20:24])


def build_probe(message_id: str) -> bytes:
    """A Probe for ONVIF NetworkVideoTransmitters."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<s:Envelope xmlns:s="{NS_SOAP12}" xmlns:a="{NS_WSA}" xmlns:d="{NS_WSD}" '
        f'xmlns:dn="{NS_DN}"><s:Header><a:MessageID>{message_id}</a:MessageID>'
        f"<a:To>{DISCOVERY_URN}</a:To><a:Action>{ACTION_PROBE}</a:Action></s:Header>"
        "<s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></s:Body>"
        "</s:Envelope>"
    ).encode()


def parse_probe_matches(data: bytes, message_id: str, source: str) -> list[ProbeMatch]:
    """The matches of a ProbeMatches reply to message_id; InvalidReply for anything else."""
    root = _parse_xml(data)
    soap = etree.QName(root).namespace
    if etree.QName(root).localname != "Envelope" or soap not in (NS_SOAP12, NS_SOAP11):
        raise InvalidReply("not a SOAP envelope")
    header = root.find(f"{{{soap}}}Header")
    _check_header(header)
    relates = _text(header, f"{{{NS_WSA}}}RelatesTo")
    if relates != message_id:
        raise InvalidReply(f"RelatesTo {relates[:80]!r} is not our probe")
    body = root.find(f"{{{soap}}}Body/{{{NS_WSD}}}ProbeMatches")
    if body is None:
        raise InvalidReply("no ProbeMatches in the body")
    matches = [_match(el, source) for el in body.findall(f"{{{NS_WSD}}}ProbeMatch")]
    return [m for m in matches[:MAX_MATCHES] if m is not None]


def _parse_xml(data: bytes) -> etree._Element:
    """Parse with the hardened parser; refuse DTDs however they are spelt."""
    if len(data) > MAX_REPLY_BYTES:
        raise InvalidReply(f"{len(data)} bytes is over the {MAX_REPLY_BYTES}-byte limit")
    if b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data.upper():
        raise InvalidReply("DTDs are not accepted")
    try:
        root = etree.fromstring(data, _PARSER)  # noqa: S320 - parser hardened above
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise InvalidReply(f"malformed XML ({exc})") from None
    if root.getroottree().docinfo.doctype:
        raise InvalidReply("DTDs are not accepted")  # e.g. a UTF-16 document
    return root


def _check_header(header: etree._Element | None) -> None:
    """The Action, when given, must be ProbeMatches (not a Hello, Bye or another Probe)."""
    if header is None:
        raise InvalidReply("no SOAP header")
    action = _text(header, f"{{{NS_WSA}}}Action")
    if action and action != ACTION_MATCHES:
        raise InvalidReply(f"action {action[:80]!r} is not ProbeMatches")


def _text(parent: etree._Element | None, path: str) -> str:
    """Stripped, length-limited text of a child element, '' when absent."""
    if parent is None:
        return ""
    return (parent.findtext(path) or "").strip()[:MAX_FIELD]


def _match(el: etree._Element, source: str) -> ProbeMatch | None:
    """One ProbeMatch, or None when it lacks an endpoint or is not a video transmitter."""
    endpoint = _text(el, f"{{{NS_WSA}}}EndpointReference/{{{NS_WSA}}}Address")
    if not endpoint or len(endpoint) > 256:
        log.debug("probe match from %s without a usable EndpointReference", source)
        return None
    types = _types(el.find(f"{{{NS_WSD}}}Types"))
    if types and "NetworkVideoTransmitter" not in {t.rpartition("}")[2] for t in types}:
        log.debug("probe match from %s is not a NetworkVideoTransmitter: %s", source, types)
        return None
    version = _text(el, f"{{{NS_WSD}}}MetadataVersion")
    return ProbeMatch(
        endpoint=endpoint, address=source,
        xaddr=pin_xaddr(_text(el, f"{{{NS_WSD}}}XAddrs").split(), source),
        types=types, scopes=tuple(_text(el, f"{{{NS_WSD}}}Scopes").split()),
        metadata_version=int(version) if version.isdigit() else None)


def _types(el: etree._Element | None) -> tuple[str, ...]:
    """Types as Clark names ({ns}local) where the prefix resolves, else as written."""
    if el is None or not el.text:
        return ()
    out = []
    for qname in el.text.split()[:16]:
        prefix, _, local = qname.rpartition(":")
        ns = el.nsmap.get(prefix or None)
        out.append(f"{{{ns}}}{local}" if ns else qname)
    return tuple(out)


def pin_xaddr(xaddrs: Iterable[str], source: str) -> str:
    """The device URL on the replying host: we never follow an XAddr to another host, nor
    keep one whose port is not a port (its readers would fail on it)."""
    candidates = [url for url in (urlsplit(x) for x in xaddrs
                                  if x.lower().startswith(("http://", "https://")))
                  if _port_ok(url)]
    for url in candidates:
        if url.hostname == source:
            return urlunsplit(url)
    if candidates:
        url = candidates[0]
        netloc = source if url.port is None else f"{source}:{url.port}"
        return urlunsplit((url.scheme, netloc, url.path or "/onvif/device_service", "", ""))
    return f"http://{source}/onvif/device_service"


def _port_ok(url: SplitResult) -> bool:
    """Whether the URL's port, if any, is a number in range (urlsplit raises otherwise)."""
    try:
        url.port  # noqa: B018 - the property is the check
    except ValueError:
        return False
    return True


class WsDiscoveryProbe:
    """One probe run: directed unicast Probes to targets and/or multicast on one interface.

    Use as a context manager; `local_address` is where replies arrive once opened.
    """

    def __init__(self, targets: Iterable[str] = (), interface: str | None = None, *,
                 multicast: bool | None = None, timeout: float = 2.0, port: int = PORT):
        self.targets = list(dict.fromkeys(targets))
        self.multicast = bool(interface) if multicast is None else multicast
        if self.multicast and not interface:
            raise ProbeError("multicast discovery needs a network interface (--interface)")
        if not self.targets and not self.multicast:
            raise ProbeError("nothing to probe: give targets or an interface")
        self.interface = interface
        self.timeout = max(0.1, float(timeout))
        self.port = port
        self.message_id = f"urn:uuid:{uuid.uuid4()}"
        self._sock: socket.socket | None = None

    def __enter__(self) -> WsDiscoveryProbe:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        """Create and bind the socket on a concrete local address (never the wildcard)."""
        if self._sock is not None:
            return
        local = interface_address(self.interface) if self.interface else self._route_source()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
            if self.multicast:
                # Only the named interface, one hop, and looped back so local devices hear it.
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(local))
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
            sock.bind((local, 0))
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            raise ProbeError(f"cannot open the probe socket on {local}: {exc.strerror}") from None
        self._sock = sock

    def _route_source(self) -> str:
        """The local address the kernel would use towards the first target."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.connect((self.targets[0], self.port))  # UDP connect: no packet sent
            except OSError as exc:
                raise ProbeError(f"no route to {self.targets[0]} ({exc.strerror})") from None
            return probe.getsockname()[0]

    @property
    def local_address(self) -> tuple[str, int]:
        """(address, port) replies are received on."""
        if self._sock is None:
            raise ProbeError("probe is not open")
        return self._sock.getsockname()

    def close(self) -> None:
        """Close the socket."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def run(self, on_match: Callable[[ProbeMatch], None] | None = None,
            stop: threading.Event | None = None) -> list[ProbeMatch]:
        """Probe and listen for `timeout` seconds (less once every unicast target answered)."""
        self.open()
        run = _ProbeRun(self, on_match, stop or threading.Event())
        return run.execute()


class _ProbeRun:
    """The state of one probe run: what was sent, who answered, what was found."""

    def __init__(self, probe: WsDiscoveryProbe, on_match: Callable | None,
                 stop: threading.Event):
        self.probe = probe
        self.sock: socket.socket = probe._sock  # type: ignore[assignment]
        self.on_match = on_match
        self.stop = stop
        self.payload = build_probe(probe.message_id)
        self.pending = set(probe.targets)
        self.targets = frozenset(probe.targets)
        self.found: dict[str, ProbeMatch] = {}

    def execute(self) -> list[ProbeMatch]:
        """Send, resend once to the silent, and collect until the window closes."""
        started = time.monotonic()
        self._send_all(self.probe.targets)
        deadline = time.monotonic() + self.probe.timeout
        # WS-Discovery repeats UDP messages once; do it for whoever is still silent.
        resend_at = time.monotonic() + min(0.5, self.probe.timeout / 3)
        resent = False
        while not self._done():
            now = time.monotonic()
            if now >= deadline:
                break
            if not resent and now >= resend_at:
                self._send_all(sorted(self.pending))
                resent = True
                continue  # replies handled while sending may already have finished us
            self._receive((deadline if resent else min(deadline, resend_at)) - now)
        log.debug("probe %s: %d devices in %.2f s", self.probe.message_id, len(self.found),
                  time.monotonic() - started)
        return list(self.found.values())

    def _done(self) -> bool:
        """Stopped, or (unicast only) every target answered."""
        if self.stop.is_set():
            return True
        return not self.probe.multicast and bool(self.targets) and not self.pending

    def _send_all(self, targets: list[str]) -> None:
        """Multicast once if enabled, then directed probes in small batches."""
        if self.probe.multicast:
            self._send((GROUP, PORT))
        for i in range(0, len(targets), SEND_BATCH):
            for addr in targets[i:i + SEND_BATCH]:
                self._send((addr, self.probe.port))
            self._receive(SEND_GAP_S)

    def _send(self, dest: tuple[str, int]) -> None:
        """One datagram; a send error is logged and the target treated as silent."""
        try:
            self.sock.sendto(self.payload, dest)
        except (BlockingIOError, InterruptedError):
            select.select([], [self.sock], [], 0.05)
            try:
                self.sock.sendto(self.payload, dest)
            except OSError as exc:
                log.debug("probe to %s not sent: %s", dest[0], exc)
        except OSError as exc:
            log.debug("probe to %s not sent: %s", dest[0], exc)

    def _receive(self, wait: float) -> None:
        """Wait up to `wait` seconds for datagrams, then handle all that are queued."""
        readable, _, _ = select.select([self.sock], [], [], max(0.0, wait))
        while readable:
            try:
                data, (src, _port) = self.sock.recvfrom(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. ICMP port unreachable reported on the socket
                log.debug("probe socket: %s", exc)
                continue
            self._handle(data, src)

    def _handle(self, data: bytes, src: str) -> None:
        """Parse one datagram; record new endpoints, ignore the rest with a reason."""
        if not self.probe.multicast and src not in self.targets:
            log.debug("ignored %d bytes from %s: not a probed address", len(data), src)
            return
        try:
            matches = parse_probe_matches(data, self.probe.message_id, src)
        except InvalidReply as exc:
            log.debug("ignored %d bytes from %s: %s", len(data), src, exc)
            return
        for match in matches:
            self.pending.discard(src)
            if match.endpoint in self.found:
                log.debug("duplicate match for %s from %s", match.endpoint, src)
                continue
            self.found[match.endpoint] = match
            if self.on_match is not None:
                self.on_match(match)
