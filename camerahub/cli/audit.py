"""`camerahub audit verify [--anchor FILE] [--update-anchor]`: check the hash chain."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from .common import EXIT_INVALID, EXIT_RUNTIME, CliError, Context, add_config_arg, print_json

if TYPE_CHECKING:
    from camerahub import audit

ANCHOR_NAME = "audit-anchor.json"


def register(sub: argparse._SubParsersAction) -> None:
    """Add the audit verbs."""
    parser = sub.add_parser("audit", help="the tamper-evident audit trail")
    verbs = parser.add_subparsers(dest="verb", required=True)
    p = verbs.add_parser("verify", help="check every entry and the chain; exit 1 if broken")
    p.add_argument("--anchor", type=Path, metavar="FILE",
                   help=f"head saved outside the database (default DATA_DIR/{ANCHOR_NAME})")
    p.add_argument("--update-anchor", action="store_true",
                   help="after a clean check, save the new head to the anchor file")
    p.add_argument("--json", action="store_true")
    add_config_arg(p)
    p.set_defaults(func=run_verify)


def _anchor_path(args: argparse.Namespace, ctx: Context) -> Path:
    return args.anchor or ctx.runtime.data_dir / ANCHOR_NAME


def _read_anchor(path: Path) -> audit.Anchor | None:
    from camerahub import audit

    try:
        return audit.read_anchor(path)
    except (ValueError, OSError) as exc:
        raise CliError(f"anchor {path}: {exc}", EXIT_INVALID) from None


def run_verify(args: argparse.Namespace) -> int:
    """Walk the chain, compare with the anchor, report the first bad entry."""
    from camerahub import audit

    ctx = Context(args.config, config_required=False)
    path = _anchor_path(args, ctx)
    anchor = _read_anchor(path)
    with ctx.sessions() as session:
        result = audit.verify(session)
        if anchor is not None:
            result = audit.check_anchor(session, result, anchor)
    if args.json:
        print_json({"ok": result.ok, "entries": result.entries, "first_bad": result.first_bad,
                    "problem": result.problem, "head": result.head,
                    "anchor": anchor.seq if anchor else None})
    if not result.ok:
        raise CliError(f"audit chain broken at entry {result.first_bad}: {result.problem}",
                       EXIT_RUNTIME)
    if args.update_anchor:
        audit.write_anchor(path, audit.head_anchor(result))
    if not args.json:
        note = f"; anchor at entry {anchor.seq} matches" if anchor else "; no anchor"
        print(f"audit chain intact: {result.entries} entries, head {result.head}{note}")
    return 0
