"""`camerahub serve [--host 127.0.0.1] [--port 8000] [--demo]`: run the HTTP API."""

from __future__ import annotations

import argparse
import gc
import logging

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
    add_config_arg(p)
    p.set_defaults(func=run)


def freeze_startup_heap() -> None:
    """Move start-up objects out of the garbage collector's view.

    They live as long as the process; without this, each full collection walks them and
    adds about 100 ms to whichever request happens to trigger it.
    """
    gc.collect()
    gc.freeze()


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
    log.warning("camerahub API on http://%s:%s", host, port)
    # Periodic discovery (online/offline, findings) and retention sweeps, unless elsewhere.
    services = ctx.services(background=not args.no_background)
    try:
        app = create_app(settings, services)
        services.start()
        freeze_startup_heap()
        # Live streams are open-ended responses: give them 5 s at shutdown, not forever.
        uvicorn.run(app, host=host, port=port, proxy_headers=False, server_header=False,
                    timeout_graceful_shutdown=5,
                    log_level=logging.getLevelName(log.getEffectiveLevel()).lower())
    finally:
        services.close()
    return 0
