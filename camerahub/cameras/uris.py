"""What a camera says about where its streams are is hostile input until checked here.

A camera answers GetStreamUri and GetSnapshotUri with any text it likes. Opened as given,
a stream URI on another host would carry the camera's login there (we insert it into the
URL), and a `file://` or `http://` one would make FFmpeg read a local file or fetch a page.
So a URI is used only with an allowed scheme and a host that is the camera's registered
address (or one the YAML lists for it in `stream_hosts`, for cameras behind NAT).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

from camerahub.config.cameras import canonical_host
from camerahub.onvif import DeviceReport

STREAM_SCHEMES = frozenset({"rtsp", "rtsps"})
SNAPSHOT_SCHEMES = frozenset({"http", "https"})
MAX_URI_LENGTH = 2048
_UNSAFE = re.compile(r"[\x00-\x20\x7f-\x9f\\]")


class UriRefused(ValueError):
    """A camera-supplied URI that must not be opened; the message says why."""


def checked_uri(uri: str, schemes: Iterable[str], hosts: Iterable[str]) -> str:
    """The URI without any user-info, if its scheme and host are allowed; else UriRefused."""
    if len(uri) > MAX_URI_LENGTH:
        raise UriRefused(f"URI longer than {MAX_URI_LENGTH} characters")
    if _UNSAFE.search(uri):
        raise UriRefused("URI contains spaces, control characters or backslashes")
    try:
        parts = urlsplit(uri)
        port = parts.port  # ValueError on a port that is not a number in range
        host = canonical_host(parts.hostname or "")
    except ValueError as exc:
        raise UriRefused(f"malformed URI: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in schemes:
        raise UriRefused(f"scheme {scheme or '(none)'!r} is not one of {sorted(schemes)}")
    allowed = {canonical_host(h) for h in hosts}
    if host not in allowed:
        raise UriRefused(f"host {host or '(none)'!r} is not the camera's address "
                         f"({', '.join(sorted(allowed))})")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    return urlunsplit((scheme, netloc, parts.path, parts.query, ""))


def uri_problems(report: DeviceReport, hosts: Iterable[str]) -> list[str]:
    """What discovery should report of a device's stream and snapshot URIs (empty: none)."""
    hosts = tuple(hosts)
    found = [(f"profile {p.token} stream", p.stream_uri, STREAM_SCHEMES)
             for p in report.profiles if p.stream_uri]
    if report.snapshot_uri:
        found.append(("snapshot", report.snapshot_uri, SNAPSHOT_SCHEMES))
    problems = []
    for what, uri, schemes in found:
        try:
            checked_uri(uri, schemes, hosts)
        except UriRefused as exc:
            problems.append(f"{what}: {exc}")
    return problems
