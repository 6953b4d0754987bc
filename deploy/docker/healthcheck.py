#!/usr/bin/env python3
"""Container health checks for camerahub, stdlib only (the image has no curl).

    camerahub-healthcheck api              GET /healthz of the API on this host
    camerahub-healthcheck recorder         the data directory (spool) is writable
    camerahub-healthcheck recorder --ready ... and the database's TCP port answers

Exit 0 when healthy, 1 when not, with one line on stderr saying why. Installed in the
image as /usr/local/bin/camerahub-healthcheck; the Dockerfile's HEALTHCHECK, the compose
file and the Kubernetes probes call it.

api: CAMERAHUB_HEALTHZ_URL if set, else https://127.0.0.1:PORT/healthz and, when the
server does not speak TLS, http://127.0.0.1:PORT/healthz (PORT: CAMERAHUB_HEALTHZ_PORT,
default 8000). The certificate is not verified: the probe talks to its own container over
loopback, sends no credentials and only reads the status; the certificate names the
office host name, not 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import sys
import tempfile
import urllib.error
import urllib.request
from urllib.parse import urlsplit

TIMEOUT_S = 4.0
DEFAULT_DATA_DIR = "/var/lib/camerahub"
DEFAULT_DB_PORTS = {"postgresql": 5432, "postgres": 5432, "mysql": 3306}


class Unhealthy(Exception):
    """Why the check failed (one line)."""


def _loopback_tls() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # see the module doc: loopback, no credentials
    return context


def _get(url: str) -> None:
    """Raise Unhealthy unless url answers 200 with {"status": "ok"}; OSError if unreachable."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise Unhealthy(f"{url}: only http and https URLs are checked")
    context = _loopback_tls() if url.startswith("https:") else None
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url, headers={"User-Agent": "camerahub-healthcheck"})
    try:
        with urllib.request.urlopen(  # noqa: S310 - scheme checked above
                request, timeout=TIMEOUT_S, context=context) as reply:
            body = reply.read(4096)
    except urllib.error.HTTPError as exc:  # the server answered, and not with 200
        raise Unhealthy(f"{url} answered {exc.code}") from None
    try:
        status = json.loads(body).get("status")
    except (ValueError, AttributeError):
        status = None
    if status != "ok":
        raise Unhealthy(f"{url} answered 200 without status ok")


def check_api() -> None:
    """The API's /healthz: the process serves and reaches its database."""
    explicit = os.environ.get("CAMERAHUB_HEALTHZ_URL")
    if explicit:
        urls = [explicit]
    else:
        port = int(os.environ.get("CAMERAHUB_HEALTHZ_PORT", "8000"))
        urls = [f"https://127.0.0.1:{port}/healthz", f"http://127.0.0.1:{port}/healthz"]
    failures = []
    for url in urls:
        try:
            _get(url)
            return
        except OSError as exc:  # refused, reset, timeout, or the other protocol: next URL
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            failures.append(f"{url}: {reason}")
    raise Unhealthy("; ".join(failures))


def check_writable(directory: str) -> None:
    """The spool lives under the data directory: a full or read-only volume stops recording."""
    try:
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".healthcheck-") as fh:
            fh.write(b"ok")
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise Unhealthy(f"data directory {directory} is not writable: {exc}") from None


def check_database_port(url: str | None) -> None:
    """The database server accepts TCP connections (SQLite and unset: nothing to check)."""
    if not url or url.startswith("sqlite"):
        return
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    host = parts.hostname
    if not host:  # a Unix socket: libpq's default, nothing to connect to here
        return
    port = parts.port or DEFAULT_DB_PORTS.get(scheme, 5432)
    try:
        with socket.create_connection((host, port), timeout=TIMEOUT_S):
            pass
    except OSError as exc:
        raise Unhealthy(f"database {host}:{port} unreachable: {exc}") from None


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    what = args.pop(0) if args else "api"
    try:
        if what == "api" and not args:
            check_api()
        elif what == "recorder" and args in ([], ["--ready"]):
            check_writable(os.environ.get("CAMERAHUB_DATA_DIR") or DEFAULT_DATA_DIR)
            if args:
                check_database_port(os.environ.get("CAMERAHUB_DATABASE_URL"))
        else:
            print("usage: camerahub-healthcheck [api | recorder [--ready]]", file=sys.stderr)
            return 2
    except Unhealthy as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
