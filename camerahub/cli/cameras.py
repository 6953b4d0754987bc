"""`camerahub cameras [--json]`: the inventory as the database holds it, with each camera's
health as the API and the operations console show it (online, recording or why not, age of
the last stored segment)."""

from __future__ import annotations

import argparse
import sys

from .common import Context, add_config_arg, print_json, table

COLUMNS = ("id", "name", "site", "room", "division", "department", "address", "state")
HEALTH_COLUMNS = ("online", "recording", "last segment")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the cameras verb."""
    p = sub.add_parser("cameras", help="list cameras with their state")
    p.add_argument("--json", action="store_true", help="a JSON list of objects")
    add_config_arg(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the cameras as a table or JSON."""
    from camerahub.inventory import Thresholds, camera_states, inventory_rows

    ctx = Context(args.config, config_required=False)
    thresholds = Thresholds(segment_late_s=ctx.config.alarms.segment_late_s) \
        if ctx.config else Thresholds()
    with ctx.sessions() as session:
        rows = inventory_rows(session)
        health = camera_states(session, thresholds=thresholds)
    for row in rows:
        row["health"] = health.get(row["id"])
    if args.json:
        print_json(rows)
    else:
        print(table(COLUMNS + HEALTH_COLUMNS,
                    [[r[c] for c in COLUMNS] + _health_cells(r["health"]) for r in rows]))
        print(f"{len(rows)} cameras", file=sys.stderr)
    return 0


def _health_cells(health: dict | None) -> list[str]:
    """online, recording (yes or why not), last segment's age: as the console shows them."""
    if not health:
        return ["unknown", "-", "-"]
    age = health["last_segment_age_s"]
    return [health["online"], "yes" if health["recording"] else str(health["why_not"]),
            "-" if age is None else f"{age:.0f} s ago"]
