"""SOAP 1.2 envelopes, faults and WS-Security UsernameToken checking."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections import OrderedDict
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from lxml import etree

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "tds": "http://www.onvif.org/ver10/device/wsdl",
    "trt": "http://www.onvif.org/ver10/media/wsdl",
    "tt": "http://www.onvif.org/ver10/schema",
    "ter": "http://www.onvif.org/ver10/error",
    "wsse": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd",
    "wsu": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd",
}
ENVELOPE_NS = " ".join(f'xmlns:{k}="{v}"' for k, v in NS.items() if k not in ("wsse", "wsu"))
CREATED_WINDOW = 300.0  # seconds either side of the camera clock a UsernameToken may be dated
NONCE_MEMORY = 4096  # nonces remembered per camera for replay detection

# Entities and network access disabled: requests come from anyone on the socket.
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False,
                          remove_blank_text=True)


class SoapFault(Exception):
    """A SOAP 1.2 fault to send back: code, ONVIF subcode(s) and reason."""

    def __init__(self, code: str, subcodes: tuple[str, ...], reason: str) -> None:
        super().__init__(reason)
        self.code, self.subcodes, self.reason = code, subcodes, reason

    @property
    def http_status(self) -> int:
        """SOAP 1.2 HTTP binding: sender faults are 400, receiver faults 500."""
        return 400 if self.code == "Sender" else 500


def not_authorized() -> SoapFault:
    """The fault ONVIF devices return for a wrong or missing credential."""
    return SoapFault("Sender", ("ter:NotAuthorized",), "Sender not Authorized")


def action_not_supported(name: str) -> SoapFault:
    """The fault for an operation the device does not implement."""
    return SoapFault("Receiver", ("ter:ActionNotSupported",),
                     f"Optional Action Not Implemented: {name}")


def invalid_arg(subcode: str, reason: str) -> SoapFault:
    """An invalid-argument fault such as ter:NoProfile."""
    return SoapFault("Sender", ("ter:InvalidArgVal", subcode), reason)


def parse_envelope(body: bytes) -> tuple[etree._Element | None, etree._Element]:
    """Return (Header, first Body child) of a SOAP 1.2 request, or raise a fault."""
    try:
        root = etree.fromstring(body, _PARSER)  # noqa: S320 - parser hardened above
    except etree.XMLSyntaxError as exc:
        raise SoapFault("Sender", ("ter:WellFormed",), f"Malformed XML: {exc}") from exc
    if root.tag != f"{{{NS['s']}}}Envelope":
        raise SoapFault("VersionMismatch", (), "Expected a SOAP 1.2 Envelope")
    header = root.find("s:Header", NS)
    body_el = root.find("s:Body", NS)
    if body_el is None or len(body_el) == 0:
        raise SoapFault("Sender", ("ter:WellFormed",), "Empty SOAP Body")
    return header, body_el[0]


def envelope(body_xml: str) -> bytes:
    """Wrap response XML in a SOAP 1.2 envelope."""
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<s:Envelope {ENVELOPE_NS}>'
            f"<s:Body>{body_xml}</s:Body></s:Envelope>").encode()


def fault_envelope(fault: SoapFault) -> bytes:
    """Serialize a fault, nesting the subcodes as SOAP 1.2 requires."""
    sub = ""
    for code in reversed(fault.subcodes):
        sub = f"<s:Subcode><s:Value>{code}</s:Value>{sub}</s:Subcode>"
    return envelope(f"<s:Fault><s:Code><s:Value>s:{fault.code}</s:Value>{sub}</s:Code>"
                    f'<s:Reason><s:Text xml:lang="en">{escape(fault.reason)}</s:Text>'
                    "</s:Reason></s:Fault>")


def parse_created(text: str) -> float:
    """Seconds since the epoch of an xs:dateTime; naive values are taken as UTC."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


class UsernameTokenVerifier:
    """Checks WS-Security UsernameTokens for one camera, remembering nonces it has seen."""

    def __init__(self) -> None:
        self._nonces: OrderedDict[bytes, float] = OrderedDict()

    def verify(self, header: etree._Element | None, username: str, password: str,
               camera_now: float) -> None:
        """Raise NotAuthorized unless the header carries a valid, fresh token."""
        token = None if header is None else header.find("wsse:Security/wsse:UsernameToken", NS)
        if token is None:
            raise not_authorized()
        user = token.findtext("wsse:Username", default="", namespaces=NS)
        pw_el = token.find("wsse:Password", NS)
        if pw_el is None or not hmac.compare_digest(user.encode(), username.encode()):
            raise not_authorized()
        if pw_el.get("Type", "").endswith("#PasswordText"):
            if not hmac.compare_digest((pw_el.text or "").encode(), password.encode()):
                raise not_authorized()
            return
        self._check_digest(token, pw_el.text or "", password, camera_now)

    def _check_digest(self, token: etree._Element, digest: str, password: str,
                      camera_now: float) -> None:
        """PasswordDigest = Base64(SHA1(nonce + created + password)), fresh and unreplayed."""
        nonce_text = token.findtext("wsse:Nonce", default="", namespaces=NS)
        created = token.findtext("wsu:Created", default="", namespaces=NS)
        try:
            nonce = base64.b64decode(nonce_text, validate=True)
            created_at = parse_created(created)
        except ValueError as exc:
            raise not_authorized() from exc
        expected = base64.b64encode(
            hashlib.sha1(nonce + created.encode() + password.encode(),  # WS-Security mandates SHA-1
                         usedforsecurity=False).digest()).decode()
        if not hmac.compare_digest(expected.encode(), digest.strip().encode()):
            raise not_authorized()
        if abs(created_at - camera_now) > CREATED_WINDOW:
            raise not_authorized()
        self._remember(nonce)

    def _remember(self, nonce: bytes) -> None:
        """Reject a nonce seen within the window; forget the oldest beyond the bound."""
        now = time.monotonic()
        while self._nonces and next(iter(self._nonces.values())) < now - 2 * CREATED_WINDOW:
            self._nonces.popitem(last=False)
        if nonce in self._nonces:
            raise not_authorized()
        self._nonces[nonce] = now
        if len(self._nonces) > NONCE_MEMORY:
            self._nonces.popitem(last=False)
