"""`camerahub audit verify [--anchor FILE] [--update-anchor]`: check the hash chain.

By default the chain is checked against the newest anchor of every place anchors are kept
(the data directory's anchor log, an older single-anchor file, and the segment store), so a
deleted tail or a rewritten chain is found without naming a file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .common import EXIT_INVALID, EXIT_RUNTIME, CliError, Context, add_config_arg, print_json

if TYPE_CHECKING:
    from camerahub.audit import Anchor, AnchorSink

LEGACY_ANCHOR = "audit-anchor.json"  # what --update-anchor wrote before the anchor log


def register(sub: argparse._SubParsersAction) -> None:
    """Add the audit verbs."""
    parser = sub.add_parser("audit", help="the tamper-evident audit trail")
    verbs = parser.add_subparsers(dest="verb", required=True)
    p = verbs.add_parser("verify", help="check every entry and the chain; exit 1 if broken")
    p.add_argument("--anchor", type=Path, metavar="FILE",
                   help="check against this anchor file only (default: the newest anchor of "
                        "the data directory's anchor log and the segment store)")
    p.add_argument("--update-anchor", action="store_true",
                   help="after a clean check, append the new head to the anchor log(s)")
    p.add_argument("--json", action="store_true")
    add_config_arg(p)
    p.set_defaults(func=run_verify)


def _sinks(args: argparse.Namespace, ctx: Context) -> list[AnchorSink]:
    """The explicit file, or every configured place anchors are kept."""
    from camerahub.audit import AnchorLog

    if args.anchor:
        return [AnchorLog(args.anchor)]
    legacy = AnchorLog(ctx.runtime.data_dir / LEGACY_ANCHOR)
    if ctx.config is None:
        return [AnchorLog(ctx.runtime.data_dir / "audit-anchors.jsonl"), legacy]
    from camerahub.composition import anchor_sinks

    return [*anchor_sinks(ctx.config, ctx.runtime, ctx.store()), legacy]


def _newest(sinks: list[AnchorSink]) -> Anchor | None:
    """The newest anchor of all sinks; an unreadable one is invalid input (exit 2)."""
    from camerahub.audit import newest
    from camerahub.storage import StorageError

    found = []
    for sink in sinks:
        try:
            found.append(sink.latest())
        except (ValueError, OSError, StorageError) as exc:
            raise CliError(f"anchor {sink.name}: {exc}", EXIT_INVALID) from None
    return newest(found)


def run_verify(args: argparse.Namespace) -> int:
    """Walk the chain, compare with the newest anchor, report the first bad entry."""
    from camerahub import audit

    ctx = Context(args.config, config_required=False)
    sinks = _sinks(args, ctx)
    anchor = _newest(sinks)
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
        head = audit.head_anchor(result)
        for sink in sinks[:-1] if not args.anchor else sinks:  # never the legacy file
            sink.save(head)
    if anchor is None:
        print("camerahub: warning: no anchor found, so a deleted tail or a rewritten chain "
              "cannot be detected; `camerahub serve` writes one every few minutes",
              file=sys.stderr)
    if not args.json:
        note = f"; anchor at entry {anchor.seq} matches" if anchor else "; no anchor"
        print(f"audit chain intact: {result.entries} entries, head {result.head}{note}")
    return 0
