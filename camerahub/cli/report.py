"""`camerahub report viewing --month YYYY-MM [--site S] [--format csv|pdf]`: the register.

The viewing register (画像閲覧等記録簿) of one month: every look at footage, the disposal
log and the holds, read from the audit trail after verifying it (a broken chain is stated
on the report and makes the command exit 1 after writing it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import EXIT_INVALID, EXIT_RUNTIME, CliError, Context, add_config_arg


def register(sub: argparse._SubParsersAction) -> None:
    """Add the report verbs."""
    parser = sub.add_parser("report", help="records for review: the monthly viewing register")
    verbs = parser.add_subparsers(dest="verb", required=True)
    p = verbs.add_parser("viewing", help="the viewing register of a month (every footage "
                                          "access, disposals, holds), from the verified "
                                          "audit trail")
    p.add_argument("--month", required=True, metavar="YYYY-MM",
                   help="calendar month in the configured zone (Asia/Tokyo)")
    p.add_argument("--site", metavar="SITE", help="only this site's cameras")
    p.add_argument("--format", choices=("csv", "pdf"), default="csv")
    p.add_argument("--lang", choices=("ja", "en"), default="ja", help="PDF language")
    p.add_argument("--out", type=Path, metavar="FILE",
                   help="output file (csv default: stdout; pdf default: "
                        "viewing-register-YYYY-MM[-SITE].pdf)")
    add_config_arg(p)
    p.set_defaults(func=run_viewing)


def run_viewing(args: argparse.Namespace) -> int:
    """Verify the chain, build the month's register, write it; exit 1 if the chain is broken."""
    from zoneinfo import ZoneInfo

    from camerahub import audit
    from camerahub.audit import register as reg

    from .audit import _newest, _sinks

    ctx = Context(args.config, config_required=False)
    tz = ZoneInfo(ctx.config.system.timezone if ctx.config else "Asia/Tokyo")
    anchor = _newest(_sinks(argparse.Namespace(anchor=None), ctx))
    with ctx.sessions() as session:
        try:
            register = reg.build(session, args.month, tz, args.site, anchor)
        except reg.RegisterError as exc:
            raise CliError(str(exc), EXIT_INVALID) from None
        data = _render(register, args)
        out = _write(data, args)
        audit.append(session, actor=audit.actors.CLI, action="report.viewing", decision="info",
                     detail={"month": args.month, "site": args.site, "format": args.format,
                             "rows": register.access_count(),
                             "chain_ok": register.chain_ok})
        session.commit()
    where = f" to {out}" if out else ""
    print(f"viewing register {args.month}: {register.access_count()} access(es), "
          f"{len(register.disposals)} disposal(s), {len(register.holds)} hold change(s){where}",
          file=sys.stderr)
    if not register.chain_ok:
        print(f"camerahub: audit chain broken ({register.chain_problem}); the register says "
              "so", file=sys.stderr)
        return EXIT_RUNTIME
    return 0


def _render(register, args: argparse.Namespace) -> bytes:
    if args.format == "csv":
        from camerahub.audit.register import csv_text

        return csv_text(register).encode("utf-8")
    from camerahub.audit.register_pdf import FontMissing, render

    try:
        return render(register, args.lang)
    except FontMissing as exc:
        raise CliError(str(exc), EXIT_RUNTIME) from None


def _write(data: bytes, args: argparse.Namespace) -> Path | None:
    out = args.out
    if out is None and args.format == "pdf":
        suffix = f"-{args.site}" if args.site else ""
        out = Path(f"viewing-register-{args.month}{suffix}.pdf")
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return None
    try:
        out.write_bytes(data)
    except OSError as exc:
        raise CliError(f"{out}: {exc.strerror or exc}", EXIT_INVALID) from None
    return out
