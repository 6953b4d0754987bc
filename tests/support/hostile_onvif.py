"""A hostile ONVIF camera: a real HTTP server that relays a simulated camera's SOAP answers
and corrupts its answer to one operation, in one of several ways (MODES).

It binds the simulated camera's own loopback address on a port of its own, so what the
camera names (stream and snapshot URIs on its address) stays trusted and its RTSP stream
stays playable: only the one corrupted answer differs from a healthy camera's.

    with HostileOnvif(sim.device_url("hq-001")) as cam:
        cam.corrupt("GetProfiles", "empty_body")
        client.interrogate(cam.device_url, login)   # the adapter must cope
        cam.heal()
"""

from __future__ import annotations

import http.client
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from lxml import etree

SOAP_ENV = "http://www.w3.org/2003/05/soap-envelope"
SOAP_TYPE = "application/soap+xml; charset=utf-8"
# What each mode does to the answer of the corrupted operation.
MODES = {
    "empty": "HTTP 200 with an empty body",
    "not_xml": "bytes that are not XML at all",
    "truncated": "the real answer cut off halfway",
    "empty_body": "a SOAP envelope whose Body is empty",
    "hollow": "the operation's response element without children (no profiles, no URI...)",
    "stripped": "the real answer with every leaf element removed",
    "wrong_types": "the real answer with every leaf's text replaced by 'n/a'",
    "huge_numbers": "the real answer with every number replaced by 40 nines",
    "long_text": "the real answer with every leaf's text 10 000 characters long",
    "wrong_answer": "a well-formed answer to a different operation",
    "oversized": "a 10 MB answer",
    "endless": "an answer that trickles forever (ENDLESS_MAX_S at most)",
}
OVERSIZED_BYTES = 10 << 20
ENDLESS_MAX_S = 60.0  # an endless answer ends here, so a client without a deadline fails late
_HUGE = "9" * 40  # parses as a number, fits no field: not a 32-bit int, a year, a frame rate
_ENVELOPE = (b'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="' + SOAP_ENV.encode()
             + b'" xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:tt="http://www'
             b'.onvif.org/ver10/schema"><s:Body>%s</s:Body></s:Envelope>')
_HOSTNAME = (b"<tds:GetHostnameResponse><tds:HostnameInformation><tt:FromDHCP>false"
             b"</tt:FromDHCP><tt:Name>other</tt:Name></tds:HostnameInformation>"
             b"</tds:GetHostnameResponse>")
_NTP = (b"<tds:GetNTPResponse><tds:NTPInformation><tt:FromDHCP>true</tt:FromDHCP>"
        b"</tds:NTPInformation></tds:GetNTPResponse>")


class HostileOnvif:
    """Relays SOAP to `upstream` (a device service URL) and corrupts one operation's answer.

    `requests` counts requests per operation and `corrupted` the answers spoiled, so a test
    can wait until a client has met the corruption (twice: it retried); `corrupt` starts
    that count again.
    """

    def __init__(self, upstream: str, host: str | None = None) -> None:
        url = urlsplit(upstream)
        self.upstream = (url.hostname or "127.0.0.1", url.port or 80)
        self.host = host or self.upstream[0]
        self.operation: str | None = None
        self.mode: str | None = None
        self.requests: Counter[str] = Counter()
        self.corrupted: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self.httpd = ThreadingHTTPServer((self.host, 0), self._handler())
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True,
                                        name="hostile-onvif")

    @property
    def port(self) -> int:
        """The TCP port the hostile camera listens on."""
        return self.httpd.server_address[1]

    @property
    def device_url(self) -> str:
        """Its ONVIF device service URL."""
        return f"http://{self.host}:{self.port}/onvif/device_service"

    def corrupt(self, operation: str, mode: str) -> None:
        """From now on, answer `operation` as `mode` says (one of MODES)."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {sorted(MODES)}")
        with self._lock:
            self.operation, self.mode = operation, mode
            self.corrupted.clear()

    def heal(self) -> None:
        """Relay every answer unchanged again."""
        with self._lock:
            self.operation = self.mode = None

    def start(self) -> HostileOnvif:
        """Serve in a daemon thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; endless answers end at once."""
        self._closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> HostileOnvif:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- serving --------------------------------------------------------------------------

    def _handler(self):
        """The request handler class, bound to this server."""
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                owner._serve(self)

            def log_message(self, *args):  # keep test output quiet
                pass

        return Handler

    def _serve(self, req: BaseHTTPRequestHandler) -> None:
        """Relay one request, or answer it corrupted."""
        body = req.rfile.read(int(req.headers.get("Content-Length") or 0))
        operation = _operation(body)
        with self._lock:
            self.requests[operation] += 1
            mode = self.mode if operation == self.operation else None
            if mode is not None:
                self.corrupted[operation] += 1
        try:
            if mode == "endless":
                self._endless(req)
            elif mode == "oversized":
                self._oversized(req)
            else:
                status, ctype, answer = self._relay(req, body)
                if mode is not None:
                    status, ctype, answer = 200, SOAP_TYPE, _spoil(answer, mode, operation)
                _answer(req, status, ctype, answer)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client hung up on a bad answer: what a careful client does

    def _relay(self, req: BaseHTTPRequestHandler, body: bytes) -> tuple[int, str, bytes]:
        """The simulated camera's own answer: (status, content type, body)."""
        conn = http.client.HTTPConnection(*self.upstream, timeout=30)
        try:
            conn.request("POST", req.path, body=body, headers={
                "Content-Type": req.headers.get("Content-Type", SOAP_TYPE)})
            reply = conn.getresponse()
            return reply.status, reply.getheader("Content-Type", SOAP_TYPE), reply.read()
        finally:
            conn.close()

    def _oversized(self, req: BaseHTTPRequestHandler) -> None:
        """A SOAP-looking start followed by 10 MB of text."""
        head = b'<?xml version="1.0"?><s:Envelope xmlns:s="' + SOAP_ENV.encode() + b'"><s:Body>'
        req.send_response(200)
        req.send_header("Content-Type", SOAP_TYPE)
        req.send_header("Content-Length", str(OVERSIZED_BYTES))
        req.end_headers()
        req.wfile.write(head)
        chunk = b"A" * (1 << 20)
        for offset in range(len(head), OVERSIZED_BYTES, len(chunk)):
            req.wfile.write(chunk[:OVERSIZED_BYTES - offset])

    def _endless(self, req: BaseHTTPRequestHandler) -> None:
        """A SOAP-looking start, then a few bytes every tenth of a second, for a long time."""
        req.send_response(200)
        req.send_header("Content-Type", SOAP_TYPE)
        req.send_header("Connection", "close")  # no length: the body ends when we close
        req.end_headers()
        req.wfile.write(b'<?xml version="1.0"?><s:Envelope xmlns:s="' + SOAP_ENV.encode() + b'">')
        waited = 0.0
        while waited < ENDLESS_MAX_S and not self._closing.wait(0.1):
            waited += 0.1
            req.wfile.write(b"<s:Body>  ")
        req.close_connection = True


def _operation(body: bytes) -> str:
    """The local name of the request's first Body element ('' if there is none)."""
    try:
        root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return ""
    found = root.find(f"{{{SOAP_ENV}}}Body")
    if found is None or len(found) == 0:
        return ""
    return etree.QName(found[0]).localname


def _answer(req: BaseHTTPRequestHandler, status: int, ctype: str, body: bytes) -> None:
    """Send a complete answer."""
    req.send_response(status)
    req.send_header("Content-Type", ctype)
    req.send_header("Content-Length", str(len(body)))
    req.end_headers()
    req.wfile.write(body)


def _spoil(answer: bytes, mode: str, operation: str) -> bytes:
    """The corrupted form of a real answer to `operation`."""
    if mode == "empty":
        return b""
    if mode == "not_xml":
        return bytes(range(256)) * 16
    if mode == "truncated":
        return answer[:len(answer) // 2]
    if mode == "wrong_answer":
        return _ENVELOPE % (_NTP if operation == "GetHostname" else _HOSTNAME)
    root = etree.fromstring(answer)
    body = root.find(f"{{{SOAP_ENV}}}Body")
    response = body[0]
    if mode == "empty_body":
        body.remove(response)
    elif mode == "hollow":
        for child in list(response):
            response.remove(child)
    else:
        _spoil_leaves(response, mode)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _spoil_leaves(response: etree._Element, mode: str) -> None:
    """Remove or rewrite every leaf element under the response element."""
    leaves = [el for el in response.iter() if len(el) == 0 and el is not response]
    for leaf in leaves:
        if mode == "stripped":
            leaf.getparent().remove(leaf)
        elif mode == "wrong_types":
            leaf.text = "n/a"
        elif mode == "huge_numbers" and (leaf.text or "").strip().lstrip("-").isdigit():
            leaf.text = _HUGE
        elif mode == "long_text":
            leaf.text = "x" * 10_000
