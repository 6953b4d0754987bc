"""WS-Discovery 2005/04 responder (SOAP-over-UDP, port 3702) for all simulated cameras."""

from __future__ import annotations

import asyncio
import fcntl
import logging
import socket
import struct
import uuid
from collections.abc import Callable, Iterable
from xml.sax.saxutils import escape

from lxml import etree

from simulator.state import CameraState

log = logging.getLogger(__name__)

PORT = 3702
GROUP = "239.255.255.250"
NS_SOAP = "http://www.w3.org/2003/05/soap-envelope"
NS_WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
NS_WSD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
NS_DN = "http://www.onvif.org/ver10/network/wsdl"
NS_TDS = "http://www.onvif.org/ver10/device/wsdl"
TYPES = {(NS_DN, "NetworkVideoTransmitter"), (NS_TDS, "Device")}
ANONYMOUS = f"{NS_WSA}/role/anonymous"
DISCOVERY_URN = "urn:schemas-xmlsoap-org:ws:2005:04:discovery"
MATCH_RFC3986 = f"{NS_WSD}/rfc3986"
MATCH_STRCMP0 = f"{NS_WSD}/strcmp0"
MAX_DELAY = 0.5  # APP_MAX_DELAY: answers to a multicast Probe are spread over this window
SIOCGIFADDR = 0x8915

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


class DiscoveryError(Exception):
    """Multicast discovery cannot be set up (for example an unknown interface)."""


def interface_address(name: str) -> str:
    """The IPv4 address of a network interface (SIOCGIFADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            raw = fcntl.ioctl(sock.fileno(), SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))
        except OSError as exc:
            raise DiscoveryError(f"interface {name!r} has no IPv4 address: {exc}") from exc
    return socket.inet_ntoa(raw[20:24])


def _envelope(action: str, to: str, body: str, relates_to: str | None = None,
              app_seq: str = "") -> bytes:
    relates = f"<wsa:RelatesTo>{escape(relates_to)}</wsa:RelatesTo>" if relates_to else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{NS_SOAP}" '
            f'xmlns:wsa="{NS_WSA}" xmlns:wsd="{NS_WSD}" xmlns:dn="{NS_DN}" '
            f'xmlns:tds="{NS_TDS}"><s:Header>'
            f"<wsa:MessageID>urn:uuid:{uuid.uuid4()}</wsa:MessageID>{relates}"
            f"<wsa:To>{to}</wsa:To><wsa:Action>{NS_WSD}/{action}</wsa:Action>{app_seq}"
            f"</s:Header><s:Body>{body}</s:Body></s:Envelope>").encode()


def _endpoint_xml(camera: CameraState, http_port: int, full: bool = True,
                  scheme: str = "http") -> str:
    """EndpointReference, Types, Scopes, XAddrs and MetadataVersion of a camera."""
    epr = (f"<wsa:EndpointReference><wsa:Address>{camera.endpoint_reference}</wsa:Address>"
           "</wsa:EndpointReference>")
    if not full:
        return epr
    scopes = " ".join(escape(s) for s in camera.scopes())
    return (f"{epr}<wsd:Types>dn:NetworkVideoTransmitter tds:Device</wsd:Types>"
            f"<wsd:Scopes>{scopes}</wsd:Scopes>"
            f"<wsd:XAddrs>{scheme}://{camera.address}:{http_port}/onvif/device_service"
            "</wsd:XAddrs>"
            f"<wsd:MetadataVersion>{camera.metadata_version}</wsd:MetadataVersion>")


def probe_matches(camera: CameraState, http_port: int, relates_to: str,
                  scheme: str = "http") -> bytes:
    """The ProbeMatches answer of one camera."""
    endpoint = _endpoint_xml(camera, http_port, scheme=scheme)
    body = (f"<wsd:ProbeMatches><wsd:ProbeMatch>{endpoint}"
            "</wsd:ProbeMatch></wsd:ProbeMatches>")
    return _envelope("ProbeMatches", ANONYMOUS, body, relates_to)


def hello_or_bye(camera: CameraState, http_port: int, action: str, number: int,
                 scheme: str = "http") -> bytes:
    """A Hello or Bye announcement."""
    seq = f'<wsd:AppSequence InstanceId="{int(camera.boot_time)}" MessageNumber="{number}"/>'
    endpoint = _endpoint_xml(camera, http_port, action == "Hello", scheme)
    body = f"<wsd:{action}>{endpoint}</wsd:{action}>"
    return _envelope(action, DISCOVERY_URN, body, app_seq=seq)


class Probe:
    """A parsed Probe: its MessageID and the Types and Scopes it filters on."""

    def __init__(self, message_id: str, types: list[tuple[str | None, str]],
                 scopes: list[str], match_by: str) -> None:
        self.message_id, self.types, self.scopes, self.match_by = (
            message_id, types, scopes, match_by)

    def matches(self, camera: CameraState) -> bool:
        """Whether a camera answers: all requested types and scopes must match."""
        for ns, local in self.types:
            if not any(local == t_local and ns in (None, t_ns) for t_ns, t_local in TYPES):
                return False
        ours = camera.scopes()
        return all(any(_scope_match(want, have, self.match_by) for have in ours)
                   for want in self.scopes)


def _scope_match(want: str, have: str, match_by: str) -> bool:
    """RFC 3986 segment-prefix matching (the default) or exact strcmp0."""
    if match_by == MATCH_STRCMP0:
        return want == have
    if match_by != MATCH_RFC3986:
        return False
    want_parts = want.rstrip("/").split("/")
    have_parts = have.rstrip("/").split("/")
    if len(want_parts) > len(have_parts):
        return False
    # scheme and authority compare case-insensitively, path segments exactly
    head = 3 if "://" in want else 1
    return ([p.lower() for p in want_parts[:head]] == [p.lower() for p in have_parts[:head]]
            and want_parts[head:] == have_parts[head:len(want_parts)])


def parse_probe(data: bytes) -> Probe | None:
    """A Probe from a datagram, or None for anything else (including garbage)."""
    try:
        root = etree.fromstring(data, _PARSER)  # noqa: S320 - parser hardened above
    except etree.XMLSyntaxError:
        return None
    probe = root.find(f"{{{NS_SOAP}}}Body/{{{NS_WSD}}}Probe")
    if probe is None:
        return None
    message_id = root.findtext(f"{{{NS_SOAP}}}Header/{{{NS_WSA}}}MessageID", default="")
    types: list[tuple[str | None, str]] = []
    types_el = probe.find(f"{{{NS_WSD}}}Types")
    if types_el is not None and types_el.text:
        for qname in types_el.text.split():
            prefix, _, local = qname.rpartition(":")
            types.append((types_el.nsmap.get(prefix or None), local))
    scopes_el = probe.find(f"{{{NS_WSD}}}Scopes")
    scopes = scopes_el.text.split() if scopes_el is not None and scopes_el.text else []
    match_by = scopes_el.get("MatchBy", MATCH_RFC3986) if scopes_el is not None else MATCH_RFC3986
    return Probe(message_id.strip(), types, scopes, match_by)


class _Datagrams(asyncio.DatagramProtocol):
    """Forwards datagrams to a callback."""

    def __init__(self, on_datagram: Callable[[bytes, tuple], None]) -> None:
        self.on_datagram = on_datagram

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        """Hand the datagram on."""
        self.on_datagram(data, addr)

    def error_received(self, exc: Exception) -> None:
        """ICMP errors (a prober that went away) are not ours to worry about."""
        log.debug("discovery socket error: %s", exc)


class DiscoveryResponder:
    """Answers Probes for every camera; multicast only when an interface is given."""

    def __init__(self, cameras: Iterable[CameraState], http_port: int,
                 interface: str | None, scheme: str = "http") -> None:
        self.cameras = list(cameras)
        self.http_port, self.scheme = http_port, scheme  # XAddrs: scheme://address:port/...
        self.interface = interface
        self.iface_addr = interface_address(interface) if interface else None
        self._unicast: dict[str, asyncio.DatagramTransport] = {}
        self._multicast: asyncio.DatagramTransport | None = None
        self._message_number = 0

    async def start(self) -> None:
        """Bind a socket on each camera's address, and the group socket if multicast is on."""
        loop = asyncio.get_running_loop()
        for cam in self.cameras:
            sock = self._camera_socket(cam.address)
            transport, _ = await loop.create_datagram_endpoint(
                lambda c=cam: _Datagrams(lambda d, a, c=c: self._on_unicast(c, d, a)), sock=sock)
            self._unicast[cam.address] = transport
        if self.iface_addr:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Datagrams(self._on_multicast), sock=self._group_socket())
            self._multicast = transport
            for cam in self.cameras:
                if not cam.faults.offline:
                    self.announce(cam, "Hello")

    def stop(self, send_bye: bool = True) -> None:
        """Say Bye (multicast only) and close the sockets."""
        if send_bye and self._multicast is not None:
            for cam in self.cameras:
                if not cam.faults.offline:
                    self.announce(cam, "Bye")
        for transport in self._unicast.values():
            transport.close()
        self._unicast.clear()
        if self._multicast is not None:
            self._multicast.close()
            self._multicast = None

    def _camera_socket(self, address: str) -> socket.socket:
        """UDP socket on ADDR:3702; also the source of this camera's multicast messages."""
        # no SO_REUSEADDR: two simulators on one address must fail loudly, not share probes
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        if self.iface_addr:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF,
                            socket.inet_aton(self.iface_addr))
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
        sock.bind((address, PORT))
        sock.setblocking(False)
        return sock

    def _group_socket(self) -> socket.socket:
        """Socket bound to the group address, joined on the given interface only."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((GROUP, PORT))
        mreq = socket.inet_aton(GROUP) + socket.inet_aton(self.iface_addr or "")
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        sock.setblocking(False)
        return sock

    def announce(self, camera: CameraState, action: str) -> None:
        """Multicast a Hello or Bye from the camera's own address (no-op without multicast)."""
        transport = self._unicast.get(camera.address)
        if self._multicast is None or transport is None:
            return
        self._message_number += 1
        transport.sendto(hello_or_bye(camera, self.http_port, action, self._message_number,
                                        self.scheme),
                         (GROUP, PORT))

    def _on_unicast(self, camera: CameraState, data: bytes, addr: tuple) -> None:
        probe = parse_probe(data)
        if probe is not None:
            self._answer(camera, probe, addr)

    def _on_multicast(self, data: bytes, addr: tuple) -> None:
        probe = parse_probe(data)
        if probe is None:
            return
        loop = asyncio.get_running_loop()
        for cam in self.cameras:
            # spread the answers as WS-Discovery asks, so 100 replies do not burst at once
            delay = (cam.index % 50) * MAX_DELAY / 50
            loop.call_later(delay, self._answer, cam, probe, addr)

    def _answer(self, camera: CameraState, probe: Probe, addr: tuple) -> None:
        """Send ProbeMatches from the camera's own socket when it matches and is online."""
        transport = self._unicast.get(camera.address)
        if transport is None or camera.faults.offline or not probe.matches(camera):
            return
        transport.sendto(probe_matches(camera, self.http_port, probe.message_id, self.scheme), addr)
