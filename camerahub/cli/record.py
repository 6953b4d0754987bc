"""`camerahub record [--shard I/N]`, `camerahub index rebuild`, `camerahub retention sweep`."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import TYPE_CHECKING

from .common import EXIT_INVALID, CliError, Context, add_config_arg, print_json

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker


def register(sub: argparse._SubParsersAction) -> None:
    """Add record, index and retention verbs."""
    p = sub.add_parser("record", help="record cameras continuously until stopped")
    p.add_argument("--shard", default="0/1", help="record shard I of N (0 <= I < N)")
    p.add_argument("--cameras", help="only these camera ids, comma separated")
    p.add_argument("--duration", type=float, help="stop after this many seconds")
    add_config_arg(p)
    p.set_defaults(func=run_record)
    p = sub.add_parser("index", help="segment index maintenance")
    verbs = p.add_subparsers(dest="verb", required=True)
    r = verbs.add_parser("rebuild", help="re-index every segment found in the store")
    r.add_argument("--json", action="store_true")
    add_config_arg(r)
    r.set_defaults(func=run_rebuild)
    p = sub.add_parser("retention", help="footage retention")
    verbs = p.add_subparsers(dest="verb", required=True)
    r = verbs.add_parser("sweep", help="delete expired footage that is not held")
    add_config_arg(r)
    r.set_defaults(func=run_sweep)


def _selected(sessions: sessionmaker[Session], args: argparse.Namespace) -> list[str]:
    from sqlalchemy import select

    from camerahub.db import models as m
    from camerahub.recorder import in_shard, parse_shard

    try:
        shard, count = parse_shard(args.shard)
    except ValueError as exc:
        raise CliError(str(exc), EXIT_INVALID) from None
    with sessions() as s:
        ids = list(s.scalars(select(m.Camera.id).where(m.Camera.recording_enabled.is_(True))))
    if args.cameras:
        wanted = set(args.cameras.split(","))
        unknown = wanted - set(ids)
        if unknown:
            raise CliError(f"unknown or not recorded cameras: {', '.join(sorted(unknown))}",
                           EXIT_INVALID)
        ids = [i for i in ids if i in wanted]
    return in_shard(ids, shard, count)


def run_record(args: argparse.Namespace) -> int:
    """Record the selected cameras until SIGTERM/SIGINT or --duration."""
    from camerahub.composition import build_recorder

    services = Context(args.config).services()
    try:
        cameras = _selected(services.sessions, args)
        recorder = build_recorder(services, cameras)
        done = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: done.set())
        recorder.start()
        print(f"recording {len(cameras)} cameras (shard {args.shard})", flush=True)
        done.wait(args.duration)
        print("stopping: closing segments and finishing uploads", file=sys.stderr, flush=True)
        recorder.stop()
    finally:
        services.close()
    return 0


def run_rebuild(args: argparse.Namespace) -> int:
    """List the store and index every well-formed key the index lacks."""
    from camerahub.recordings import rebuild_index
    from camerahub.storage import StorageError

    ctx = Context(args.config)
    try:
        counts = rebuild_index(ctx.sessions, ctx.store())
    except StorageError as exc:
        raise CliError(f"cannot list the store: {exc}") from None
    if args.json:
        print_json(counts)
    else:
        print(", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def run_sweep(args: argparse.Namespace) -> int:
    """One retention pass."""
    from camerahub.retention import RetentionSweeper

    ctx = Context(args.config)
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(ctx.config.system.timezone) if ctx.config else None
    report = RetentionSweeper(ctx.sessions, ctx.store(), tz=tz).sweep()
    print(f"deleted {report.deleted}, held by object lock {report.locked}, "
          f"failed {len(report.failed)}")
    return 1 if report.failed else 0
