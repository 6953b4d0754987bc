"""`camerahub serve [--host 127.0.0.1] [--port 8000] [--demo]`: run the HTTP API."""

from __future__ import annotations

import argparse
import gc
import ipaddress
import logging
from pathlib import Path

from .common import EXIT_INVALID, CliError, Context, add_config_arg

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the serve verb."""
    p = sub.add_parser("serve", help="run the HTTP API")
    p.add_argument("--host", help="bind address (default: api.host of the config, 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default: api.port of the config, 8000)")
    p.add_argument("--no-background", action="store_true",
                   help="do not run periodic discovery and retention in this process")
    p.add_argument("--demo", action="store_true",
                   help="accept a missing or weak signing secret (never in production)")
    p.add_argument("--insecure-http", action="store_true",
                   help="serve plain HTTP on a non-loopback address (only behind a "
                        "TLS-terminating proxy; same as api.allow_plain_http)")
    add_config_arg(p)
    p.set_defaults(func=run)


def freeze_startup_heap() -> None:
    """Move start-up objects out of the garbage collector's view.

    They live as long as the process; without this, each full collection walks them and
    adds about 100 ms to whichever request happens to trigger it.
    """
    gc.collect()
    gc.freeze()


def _tls_files(api, base: Path) -> tuple[Path, Path] | None:
    """The configured certificate and key (relative to the config file), checked readable."""
    if api.tls_cert_file is None:
        return None
    files = tuple(p if p.is_absolute() else base / p for p in (api.tls_cert_file,
                                                              api.tls_key_file))
    for path in files:
        try:
            with open(path, "rb") as fh:
                fh.read(1)
        except OSError as exc:
            raise CliError(f"api TLS file {path}: {exc.strerror or exc}", EXIT_INVALID) from None
    return files  # type: ignore[return-value]


def _refuse_plain_http_off_loopback(host: str, tls: object, allowed: bool) -> None:
    """Passwords and tokens never cross a network in clear text unless told so."""
    if tls or allowed or _is_loopback(host):
        return
    raise CliError(f"refusing to serve plain HTTP on {host}: set api.tls_cert_file and "
                   "api.tls_key_file, or --insecure-http behind a TLS-terminating proxy",
                   EXIT_INVALID)


def _is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and localhost; anything else (0.0.0.0 included) is a network."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace) -> int:
    """Build settings (refusing a weak secret) and the services, then serve with uvicorn."""
    import uvicorn

    from camerahub.api import Settings, create_app
    from camerahub.authz.errors import WeakSecret

    ctx = Context(args.config)
    cfg = ctx.config
    try:
        settings = Settings.load(cfg, demo=args.demo)
    except WeakSecret as exc:
        raise CliError(f"{exc}; set it via auth.secret_env or auth.secret_file",
                       EXIT_INVALID) from None
    host = args.host or cfg.api.host
    port = args.port or cfg.api.port
    tls = _tls_files(cfg.api, ctx.path.parent)
    _refuse_plain_http_off_loopback(host, tls, args.insecure_http or cfg.api.allow_plain_http)
    log.warning("camerahub API on %s://%s:%s", "https" if tls else "http", host, port)
    # Periodic discovery (online/offline, findings) and retention sweeps, unless elsewhere.
    services = ctx.services(background=not args.no_background)
    try:
        app = create_app(settings, services)
        services.start()
        freeze_startup_heap()
        # Live streams are open-ended responses: give them 5 s at shutdown, not forever.
        uvicorn.run(app, host=host, port=port, proxy_headers=False, server_header=False,
                    timeout_graceful_shutdown=5,
                    log_level=logging.getLevelName(log.getEffectiveLevel()).lower(),
                    **({"ssl_certfile": str(tls[0]), "ssl_keyfile": str(tls[1])} if tls else {}))
    finally:
        services.close()
    return 0
