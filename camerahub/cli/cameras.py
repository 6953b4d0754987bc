"""`camerahub cameras [--json]`: the inventory as the database holds it."""

from __future__ import annotations

import argparse
import sys

from .common import Context, add_config_arg, print_json, table

COLUMNS = ("id", "name", "site", "room", "division", "department", "address", "state")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the cameras verb."""
    p = sub.add_parser("cameras", help="list cameras with their state")
    p.add_argument("--json", action="store_true", help="a JSON list of objects")
    add_config_arg(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the cameras as a table or JSON."""
    from camerahub.inventory import inventory_rows

    ctx = Context(args.config, config_required=False)
    with ctx.sessions() as session:
        rows = inventory_rows(session)
    if args.json:
        print_json(rows)
    else:
        print(table(COLUMNS, [[r[c] for c in COLUMNS] for r in rows]))
        print(f"{len(rows)} cameras", file=sys.stderr)
    return 0
