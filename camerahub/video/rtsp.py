"""The recorder's own RTSP client (RFC 2326): sets up one interleaved-TCP session per camera.

FFmpeg's RTSP client, which PyAV uses, polls and reads each RTP packet with two small
reads in the camera's own thread: measured, its reading alone cost as much as a whole
`ffmpeg -c copy` per camera (docs/recorder-engines.md). This client only talks RTSP:
OPTIONS, DESCRIBE, SETUP (RTP/AVP/TCP, interleaved channels 0-1) and PLAY, with Basic or
Digest (RFC 2617, MD5) credentials from the URL, in the calling thread, with timeouts.
After PLAY the socket carries `$`-framed RTP and RTCP and is read by one reactor thread for
every camera (camerahub.video.reactor); the client then only builds the keepalive
(GET_PARAMETER, or OPTIONS when the camera does not offer it) and the TEARDOWN.

Everything the camera says is hostile until checked: response heads and bodies are bounded
(MAX_HEAD, MAX_BODY), status lines and headers must parse, the session id and control URL
the camera gives back are echoed in our requests only if they hold no spaces or control
characters, and the control URL is only ever a name sent over this same connection: the
client never connects anywhere else. Credentials are never in an error message (redact).

rtsps:// (RTSP over TLS, port 322 by default) is spoken over a connection whose certificate
was verified first (camerahub.video.tls): nothing, credentials included, is sent to a
camera that has not proved who it is. The kernel's receive times do not pass through TLS;
the reactor takes the time of its read instead.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import re
import secrets
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit, urlunsplit

from camerahub.redact import redact
from camerahub.video import tls
from camerahub.video.errors import StreamOpenError

MAX_HEAD = 16 * 1024  # a response's status line and headers
MAX_BODY = 64 * 1024  # a DESCRIBE's SDP
_MAX_TOKEN = 512  # a session id or control URL we echo back
_SAFE = re.compile(r"^[\x21-\x7e]+$")  # printable, no spaces or control characters
_DEFAULT_TIMEOUT_S = 60  # RFC 2326 12.37: the session timeout when the camera names none
_STATUS_KINDS = {401: "unauthorized", 403: "forbidden", 404: "not_found"}
_PARAM = re.compile(r'(\w+)\s*=\s*(?:"([^"]*)"|([^\s,]+))')
USER_AGENT = "camerahub"


@dataclass
class Track:
    """The session's video track as the SDP described it."""

    codec: str  # "h264", or the SDP's encoding name in lower case
    payload_type: int
    clock_rate: int
    control: str
    parameter_sets: list[bytes] = field(default_factory=list)  # SPS, PPS (sprop)


class RtspConnection:
    """One camera's RTSP connection: set up with `play`, then read by the reactor."""

    def __init__(self, url: str, timeout_s: float, ca_file: str | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("rtsp", "rtsps") or not parts.hostname:
            raise StreamOpenError("invalid", f"{redact(url)}: not an rtsp:// URL")
        self.redacted = redact(url)
        try:
            port = parts.port or (tls.DEFAULT_PORT if parts.scheme == "rtsps" else 554)
        except ValueError as exc:
            raise StreamOpenError("invalid", f"{self.redacted}: bad port") from exc
        self.user = unquote(parts.username or "")
        self.password = unquote(parts.password or "")
        host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        self.url = urlunsplit((parts.scheme, f"{host}:{port}", parts.path or "/",
                               parts.query, ""))
        self.timeout_s = timeout_s
        self.deadline = time.monotonic() + timeout_s
        self.cseq = 0
        self.digest: dict[str, str] | None = None
        self.nonce_count = 0
        self.basic = False
        self.session: str | None = None
        self.session_timeout_s = _DEFAULT_TIMEOUT_S
        self.keepalive_method = "GET_PARAMETER"
        self.base = self.url
        self.buf = b""
        try:
            sock = socket.create_connection((parts.hostname, port), timeout=timeout_s)
        except TimeoutError as exc:
            raise StreamOpenError("timeout", f"{self.redacted}: connect timed out") from exc
        except OSError as exc:
            raise StreamOpenError("unreachable", f"{self.redacted}: {exc.strerror or exc}"
                                  ) from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with contextlib.suppress(OSError):  # receive times from the first byte (the reactor)
            sock.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_TIMESTAMPNS", 35), 1)
        if parts.scheme == "rtsps":
            sock = tls.open_tls(parts.hostname, port, self.deadline - time.monotonic(),
                                ca_file, self.redacted, sock)
        self.sock: socket.socket = sock

    # --- the exchange before PLAY ------------------------------------------------------

    def play(self) -> Track:
        """OPTIONS, DESCRIBE, SETUP and PLAY the first video track; its description.

        Raises StreamOpenError (kinds as camerahub.video.errors); the socket is closed then.
        """
        try:
            return self._play()
        except StreamOpenError:
            self.close()
            raise
        except TimeoutError as exc:
            self.close()
            raise StreamOpenError("timeout", f"{self.redacted}: no answer in time") from exc
        except (OSError, UnicodeError, ValueError) as exc:
            self.close()
            raise StreamOpenError("unreachable", f"{self.redacted}: {exc}") from exc

    def _play(self) -> Track:
        headers, _ = self.request("OPTIONS", self.url, auth=False, ok_statuses=(200, 401))
        public = headers.get("public", "")
        if public and "GET_PARAMETER" not in public.upper():
            self.keepalive_method = "OPTIONS"
        headers, sdp = self.request("DESCRIBE", self.url, {"Accept": "application/sdp"})
        base = headers.get("content-base") or headers.get("content-location") or self.url
        self.base = _echoable(base, "Content-Base") if "://" in base else self.url
        track = parse_sdp(sdp, self.base)
        if track.codec != "h264":
            return track  # the caller records it another way; nothing set up
        headers, _ = self.request("SETUP", track.control,
                                  {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"})
        self._note_session(headers.get("session", ""))
        transport = headers.get("transport", "")
        channels = re.search(r"interleaved=(\d+)(?:-(\d+))?", transport)
        if channels is None or int(channels.group(1)) != 0:
            raise StreamOpenError("invalid", f"{self.redacted}: the camera did not accept "
                                  f"interleaved channels 0-1 (Transport {transport[:80]!r})")
        self.request("PLAY", self.base, {"Session": self.session, "Range": "npt=0.000-"})
        return track

    def _note_session(self, value: str) -> None:
        session, _, params = value.partition(";")
        session = session.strip()
        if not session:
            raise StreamOpenError("invalid", f"{self.redacted}: SETUP gave no session")
        self.session = _echoable(session, "Session")
        found = re.search(r"timeout\s*=\s*(\d+)", params)
        if found:
            self.session_timeout_s = min(max(int(found.group(1)), 5), 3600)

    def request(self, method: str, uri: str, extra: dict[str, str] | None = None, *,
                auth: bool = True, ok_statuses: tuple[int, ...] = (200,)
                ) -> tuple[dict[str, str], bytes]:
        """Send one request and read its response: (headers, body).

        A 401 is answered once with the camera's Digest challenge (or Basic); any other
        status outside ok_statuses is a StreamOpenError of the matching kind.
        """
        for attempt in range(2):
            self.sock.sendall(self._message(method, uri, extra, auth or attempt > 0))
            status, headers, body = self._response()
            if status == 401 and attempt == 0 and self.user and self._challenge(headers):
                continue
            if status in ok_statuses:
                return headers, body
            kind = _STATUS_KINDS.get(status, "invalid" if status < 500 else "unreachable")
            raise StreamOpenError(kind, f"{self.redacted}: {method} answered {status}")
        raise StreamOpenError("unauthorized", f"{self.redacted}: {method}: credentials refused")

    def _message(self, method: str, uri: str, extra: dict[str, str] | None,
                 auth: bool) -> bytes:
        self.cseq += 1
        lines = [f"{method} {uri} RTSP/1.0", f"CSeq: {self.cseq}", f"User-Agent: {USER_AGENT}"]
        if auth and (self.digest is not None or self.basic):
            lines.append(f"Authorization: {self._authorization(method, uri)}")
        lines += [f"{k}: {v}" for k, v in (extra or {}).items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def _challenge(self, headers: dict[str, str]) -> bool:
        """Take the camera's WWW-Authenticate; whether there is something to try."""
        challenge = headers.get("www-authenticate", "")
        scheme = challenge.split(" ", 1)[0].lower()
        if scheme == "digest":
            params = {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
                      for m in _PARAM.finditer(challenge)}
            algorithm = params.get("algorithm", "MD5").upper()
            if "nonce" not in params or algorithm not in ("MD5", "MD5-SESS"):
                return False
            self.digest, self.nonce_count = params, 0
            return True
        if scheme == "basic" or not challenge:
            self.basic = True
            return True
        return False

    def _authorization(self, method: str, uri: str) -> str:
        if self.digest is None:
            token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            return f"Basic {token}"
        d = self.digest

        def md5(text: str) -> str:  # RFC 2617 mandates MD5: protocol, not our choice of hash
            return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()

        realm, nonce = d.get("realm", ""), d["nonce"]
        ha1 = md5(f"{self.user}:{realm}:{self.password}")
        cnonce = secrets.token_hex(8)
        if d.get("algorithm", "").upper() == "MD5-SESS":
            ha1 = md5(f"{ha1}:{nonce}:{cnonce}")
        ha2 = md5(f"{method}:{uri}")
        fields = {"username": self.user, "realm": realm, "nonce": nonce, "uri": uri}
        if "auth" in [q.strip() for q in d.get("qop", "").split(",")]:
            self.nonce_count += 1
            nc = f"{self.nonce_count:08x}"
            fields.update(qop="auth", nc=nc, cnonce=cnonce,
                          response=md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"))
        else:
            fields["response"] = md5(f"{ha1}:{nonce}:{ha2}")
        if "opaque" in d:
            fields["opaque"] = d["opaque"]
        return "Digest " + ", ".join(f"{k}={v}" if k in ("qop", "nc") else f'{k}="{v}"'
                                     for k, v in fields.items())

    def _response(self) -> tuple[int, dict[str, str], bytes]:
        """Read one response; interleaved data that follows it stays in self.buf."""
        while True:
            start = self.buf.find(b"RTSP/")
            if start > 0:  # `$` frames before the answer (after PLAY): not ours yet
                self.buf = self.buf[start:]
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(self.buf) > MAX_HEAD:
                raise StreamOpenError("invalid", f"{self.redacted}: response head too long")
            self._fill()
        head, rest = self.buf[:end], self.buf[end + 4:]
        first, *lines = head.decode("latin-1").split("\r\n")
        match = re.match(r"^RTSP/1\.\d (\d{3})(?: |$)", first)
        if match is None:
            raise StreamOpenError("invalid", f"{self.redacted}: not an RTSP response")
        headers: dict[str, str] = {}
        for line in lines:
            key, sep, value = line.partition(":")
            if sep:
                headers[key.strip().lower()] = value.strip()
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            raise StreamOpenError("invalid", f"{self.redacted}: bad Content-Length")
        while len(rest) < length:
            self.buf = head + b"\r\n\r\n" + rest
            self._fill()
            rest = self.buf[end + 4:]
        self.buf = rest[length:]
        return int(match.group(1)), headers, rest[:length]

    def _fill(self) -> None:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("RTSP set-up took too long")
        self.sock.settimeout(left)
        chunk = self.sock.recv(8192)
        if not chunk:
            raise StreamOpenError("unreachable", f"{self.redacted}: connection closed by "
                                  "the camera")
        self.buf += chunk

    # --- after PLAY -----------------------------------------------------------------------

    def answered(self, head: bytes) -> bool:
        """An answer read among the data (a keepalive's): True when it asks for our
        credentials again (a Digest nonce gone stale), taken so the next request has them."""
        first, *lines = head.decode("latin-1").split("\r\n")
        if not re.match(r"^RTSP/1\.\d 401(?: |$)", first):
            return False
        headers = {}
        for line in lines:
            key, sep, value = line.partition(":")
            if sep:
                headers[key.strip().lower()] = value.strip()
        old = (self.digest or {}).get("nonce")
        # a new nonce only: a camera that keeps refusing is not asked again every tick
        return self._challenge(headers) and (self.digest or {}).get("nonce") != old

    def keepalive(self) -> bytes:
        """The request that keeps the session alive (its answer arrives among the data)."""
        return self._message(self.keepalive_method,
                             self.base if self.keepalive_method != "OPTIONS" else self.url,
                             {"Session": self.session or ""}, True)

    def teardown(self) -> None:
        """Tell the camera the session ends (best effort, never blocks long), then close."""
        with contextlib.suppress(OSError, ValueError):
            if self.session is not None:
                self.sock.settimeout(1.0)
                self.sock.sendall(self._message("TEARDOWN", self.base,
                                                {"Session": self.session}, True))
        self.close()

    def close(self) -> None:
        """Close the socket."""
        with contextlib.suppress(OSError):
            self.sock.close()


def _echoable(value: str, what: str) -> str:
    """A value the camera gave that we put into a request line or header: no injection."""
    if len(value) > _MAX_TOKEN or not _SAFE.match(value):
        raise StreamOpenError("invalid", f"the camera's {what} cannot be used in a request")
    return value


def parse_sdp(sdp: bytes, base: str) -> Track:
    """The first video track of a session description (RFC 4566, RFC 6184 fmtp)."""
    text = sdp.decode("utf-8", "replace")
    media = re.split(r"\r?\n(?=m=)", text)
    video = next((m for m in media if m.startswith("m=video")), None)
    if video is None:
        raise StreamOpenError("invalid", "the camera's SDP has no video track")
    fields = video.split("\n", 1)[0].split()
    try:
        payload_type = int(fields[3])
    except (IndexError, ValueError) as exc:
        raise StreamOpenError("invalid", "the camera's SDP has a bad m=video line") from exc
    if not 0 <= payload_type <= 127:
        raise StreamOpenError("invalid", "the camera's SDP has a bad payload type")
    rtpmap = re.search(rf"a=rtpmap:{payload_type}\s+([\w.-]+)/(\d+)", video)
    if rtpmap is None and payload_type >= 96:
        raise StreamOpenError("invalid", "the camera's SDP does not name its video codec")
    codec = rtpmap.group(1).lower() if rtpmap else f"static-{payload_type}"
    clock_rate = int(rtpmap.group(2)) if rtpmap else 90_000
    control = re.search(r"a=control:(\S+)", video)
    target = control.group(1) if control else "*"
    if target == "*":
        target = base
    elif "://" not in target:
        target = base.rstrip("/") + "/" + target
    track = Track(codec, payload_type, clock_rate, _echoable(target, "control URL"))
    fmtp = re.search(rf"a=fmtp:{payload_type}\s+(\S.*)", video)
    sprop = re.search(r"sprop-parameter-sets=([A-Za-z0-9+/=,]+)", fmtp.group(1)) if fmtp else None
    if sprop:
        for chunk in sprop.group(1).split(",")[:8]:
            with contextlib.suppress(binascii.Error, ValueError):
                unit = base64.b64decode(chunk, validate=True)
                if 1 < len(unit) <= 1024:
                    track.parameter_sets.append(unit)
    return track
