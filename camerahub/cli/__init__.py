"""The `camerahub` command: one module per verb group, registered below."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from camerahub import __version__, redact

from .common import EXIT_INVALID, EXIT_RUNTIME, CliError

# Each module defines register(subparsers); the order is the order of `camerahub --help`.
# Module names; a module may register several verbs (record: record, index, retention).
COMMANDS = ("deploy", "cameras", "discover", "record", "export", "demo", "user", "apikey", "audit",
            "report", "serve")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every registered verb."""
    parser = argparse.ArgumentParser(
        prog="camerahub", description="camerahub: office camera recording and review")
    parser.add_argument("--version", action="version", version=f"camerahub {__version__}")
    parser.add_argument("--log-level", default=os.environ.get("CAMERAHUB_LOG_LEVEL", "WARNING"))
    parser.add_argument("--config", dest="global_config", metavar="FILE",
                        help="deployment file, before or after the verb (default camerahub.yaml, "
                             "env CAMERAHUB_CONFIG)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"camerahub.cli.{name}").register(sub)
    return parser



def main(argv: list[str] | None = None) -> int:
    """Entry point: run a verb, map failures to exit codes 1 (runtime) and 2 (input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "config", None) is None:  # --config given before the verb
        args.config = args.global_config
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    redact.install()  # before any verb logs: no secret reaches stderr or a log collector
    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        print(f"camerahub: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        code = _known_failure(exc)
        if code is None:
            raise
        return code


def _known_failure(exc: Exception) -> int | None:
    """Report a configuration, secret or database failure in one line; None if unknown."""
    # Imported here: these modules are only loaded once a verb has run into one of them.
    from camerahub.config import ConfigError, SecretMissing
    from camerahub.db.engine import DatabaseError

    if isinstance(exc, ConfigError):
        count = len(exc.issues)
        print(f"camerahub: invalid configuration ({count} problem{'s' * (count != 1)})",
              file=sys.stderr)
        for issue in exc.issues:
            print(f"  {issue}", file=sys.stderr)
        return EXIT_INVALID
    if isinstance(exc, DatabaseError | SecretMissing):
        print(f"camerahub: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    return None
