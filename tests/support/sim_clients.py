"""A small blocking RTSP/RTP client and SOAP helpers for the simulator tests."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import socket
import struct
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx


@dataclass
class RtspReply:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class RtpPacket:
    channel: int
    marker: bool
    payload_type: int
    seq: int
    ts: int
    ssrc: int
    payload: bytes


class RtspClient:
    """Speaks RTSP over one TCP connection and reads interleaved RTP."""

    def __init__(self, host: str, port: int, user: str = "admin", password: str = "admin",
                 timeout: float = 20) -> None:
        self.host, self.port, self.user, self.password = host, port, user, password
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.cseq = 0
        self.challenge = ""
        self.session = ""

    def url(self, path: str) -> str:
        return f"rtsp://{self.host}:{self.port}/{path}"

    def close(self) -> None:
        self.sock.close()

    def _recv(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("connection closed by server")
        self.buf += data

    def _take(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._recv()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def request(self, method: str, path_or_url: str, headers: dict | None = None,
                auth: bool = True) -> RtspReply:
        """One request; answers a 401 challenge once with Digest when `auth`."""
        url = path_or_url if path_or_url.startswith("rtsp://") or path_or_url == "*" \
            else self.url(path_or_url)
        reply = self._send(method, url, headers or {})
        if reply.status == 401 and auth and "www-authenticate" in reply.headers:
            self.challenge = reply.headers["www-authenticate"]
            reply = self._send(method, url, headers or {})
        return reply

    def _send(self, method: str, url: str, headers: dict) -> RtspReply:
        self.cseq += 1
        lines = [f"{method} {url} RTSP/1.0", f"CSeq: {self.cseq}"]
        if self.challenge:
            lines.append(f"Authorization: {self.digest(method, url)}")
        if self.session:
            lines.append(f"Session: {self.session}")
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.send_raw(("\r\n".join(lines) + "\r\n\r\n").encode())
        return self.read_reply()

    def digest(self, method: str, url: str) -> str:
        realm = re.search(r'realm="([^"]*)"', self.challenge).group(1)
        nonce = re.search(r'nonce="([^"]*)"', self.challenge).group(1)

        def md5(s: str) -> str:
            return hashlib.md5(s.encode()).hexdigest()
        response = md5(f"{md5(f'{self.user}:{realm}:{self.password}')}:{nonce}:"
                       f"{md5(f'{method}:{url}')}")
        return (f'Digest username="{self.user}", realm="{realm}", nonce="{nonce}", '
                f'uri="{url}", response="{response}"')

    def read_reply(self, skip_rtp: bool = True) -> RtspReply:
        """The next RTSP response, skipping interleaved packets before it."""
        while True:
            while not self.buf:
                self._recv()
            if self.buf[:1] == b"$":
                self.read_packet()
                continue
            while b"\r\n\r\n" not in self.buf:
                self._recv()
            head, self.buf = self.buf.split(b"\r\n\r\n", 1)
            lines = head.decode().split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, _, v in
                       (line.partition(":") for line in lines[1:])}
            body = self._take(int(headers.get("content-length", 0)))
            return RtspReply(int(lines[0].split()[1]), headers, body)

    def read_packet(self) -> RtpPacket:
        """The next interleaved packet (RTP or RTCP)."""
        hdr = self._take(4)
        assert hdr[0:1] == b"$", f"expected interleaved data, got {hdr!r}"
        data = self._take(struct.unpack("!H", hdr[2:])[0])
        b0, b1, seq, ts, ssrc = struct.unpack("!BBHII", data[:12])
        return RtpPacket(hdr[1], bool(b1 & 0x80), b1 & 0x7F, seq, ts, ssrc, data[12:])

    def read_rtp(self) -> RtpPacket:
        """The next RTP packet on channel 0, skipping RTCP."""
        while True:
            pkt = self.read_packet()
            if pkt.channel == 0:
                return pkt

    def play(self, path: str = "main") -> RtspReply:
        """DESCRIBE, SETUP (TCP interleaved) and PLAY; returns the PLAY reply."""
        reply = self.request("DESCRIBE", path, {"Accept": "application/sdp"})
        assert reply.status == 200, reply
        reply = self.request("SETUP", f"{path}/trackID=1",
                             {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"})
        assert reply.status == 200, reply
        self.session = reply.headers["session"].split(";")[0]
        reply = self.request("PLAY", path, {"Range": "npt=0.000-"})
        assert reply.status == 200, reply
        return reply


def soap_request(body_xml: str, security: str = "") -> bytes:
    """A SOAP 1.2 envelope around a body, with an optional Security header."""
    header = f"<s:Header>{security}</s:Header>" if security else ""
    return (f'<?xml version="1.0"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"'
            f' xmlns:tds="http://www.onvif.org/ver10/device/wsdl"'
            f' xmlns:trt="http://www.onvif.org/ver10/media/wsdl">{header}'
            f"<s:Body>{body_xml}</s:Body></s:Envelope>").encode()


def username_token(user: str, password: str, created: datetime | None = None,
                   nonce: bytes | None = None) -> str:
    """A WS-Security UsernameToken with PasswordDigest."""
    created_text = (created or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    nonce = nonce or os.urandom(16)
    digest = base64.b64encode(hashlib.sha1(nonce + created_text.encode() + password.encode())
                              .digest()).decode()
    wsse = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
    wsu = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
    ptype = ("http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
             "#PasswordDigest")
    return (f'<wsse:Security xmlns:wsse="{wsse}" xmlns:wsu="{wsu}"><wsse:UsernameToken>'
            f"<wsse:Username>{user}</wsse:Username>"
            f'<wsse:Password Type="{ptype}">{digest}</wsse:Password>'
            f"<wsse:Nonce>{base64.b64encode(nonce).decode()}</wsse:Nonce>"
            f"<wsu:Created>{created_text}</wsu:Created></wsse:UsernameToken></wsse:Security>")


def post_soap(url: str, payload: bytes) -> httpx.Response:
    """POST a SOAP body with the SOAP 1.2 content type."""
    return httpx.post(url, content=payload, timeout=20,
                      headers={"Content-Type": "application/soap+xml; charset=utf-8"})


def nal_types(payload: bytes) -> int:
    """NAL type carried by an RTP payload (the fragmented type for FU-A)."""
    kind = payload[0] & 0x1F
    return payload[1] & 0x1F if kind == 28 else kind


WSD_PROBE = (
    '<?xml version="1.0"?><e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:w="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
    'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" '
    'xmlns:dn="http://www.onvif.org/ver10/network/wsdl" '
    'xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:x="urn:example:other">'
    "<e:Header><w:MessageID>{mid}</w:MessageID>"
    "<w:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</w:To>"
    "<w:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</w:Action></e:Header>"
    "<e:Body><d:Probe>{types}{scopes}</d:Probe></e:Body></e:Envelope>")


def probe_message(types: str | None = "dn:NetworkVideoTransmitter",
                  scopes: str | None = None) -> tuple[str, bytes]:
    """(MessageID, datagram) of a WS-Discovery Probe."""
    import uuid
    mid = f"urn:uuid:{uuid.uuid4()}"
    types_xml = f"<d:Types>{types}</d:Types>" if types else ""
    scopes_xml = f"<d:Scopes>{scopes}</d:Scopes>" if scopes else ""
    return mid, WSD_PROBE.format(mid=mid, types=types_xml, scopes=scopes_xml).encode()


def parse_probe_match(data: bytes) -> dict:
    """RelatesTo, EndpointReference, XAddrs, Scopes and Types of a ProbeMatches."""
    from lxml import etree
    ns = {"s": "http://www.w3.org/2003/05/soap-envelope",
          "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
          "d": "http://schemas.xmlsoap.org/ws/2005/04/discovery"}
    root = etree.fromstring(data)
    match = root.find("s:Body/d:ProbeMatches/d:ProbeMatch", ns)
    return {"action": root.findtext("s:Header/a:Action", namespaces=ns),
            "relates_to": root.findtext("s:Header/a:RelatesTo", namespaces=ns),
            "epr": match.findtext("a:EndpointReference/a:Address", namespaces=ns),
            "types": match.findtext("d:Types", namespaces=ns).split(),
            "types_nsmap": match.find("d:Types", ns).nsmap,
            "scopes": match.findtext("d:Scopes", namespaces=ns).split(),
            "xaddrs": match.findtext("d:XAddrs", namespaces=ns),
            "metadata_version": match.findtext("d:MetadataVersion", namespaces=ns)}


def udp_socket(timeout: float = 10) -> socket.socket:
    """A UDP socket on 127.0.0.1 for sending probes and collecting answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(timeout)
    sock.bind(("127.0.0.1", 0))
    return sock
