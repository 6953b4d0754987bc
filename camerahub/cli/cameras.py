"""`camerahub cameras [--json]`: the inventory as the database holds it."""

from __future__ import annotations

import argparse
import sys

from sqlalchemy import select
from sqlalchemy.orm import aliased

from camerahub.db import models as m

from .common import Context, add_config_arg, print_json, table

COLUMNS = ("id", "name", "site", "room", "division", "department", "address", "state")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the cameras verb."""
    p = sub.add_parser("cameras", help="list cameras with their state")
    p.add_argument("--json", action="store_true", help="a JSON list of objects")
    add_config_arg(p)
    p.set_defaults(func=run)


def inventory_rows(session) -> list[dict]:
    """Cameras joined with their room, division, department and state."""
    room, div, dept = aliased(m.Area), aliased(m.Area), aliased(m.Area)
    stmt = (
        select(m.Camera, room, div, dept, m.CameraState)
        .join(room, room.id == m.Camera.room_id)
        .outerjoin(div, div.id == room.parent_id)
        .outerjoin(dept, dept.id == div.parent_id)
        .outerjoin(m.CameraState, m.CameraState.camera_id == m.Camera.id)
        .order_by(m.Camera.site_id, m.Camera.id)
    )
    return [_row(*r) for r in session.execute(stmt)]


def _row(cam, room, div, dept, state) -> dict:
    return {
        "id": cam.id, "name": cam.name, "site": cam.site_id, "room": room.id,
        "room_name": room.name, "division": div.id if div else None,
        "department": dept.id if dept else None, "address": cam.address, "port": cam.port,
        "state": state.status if state else "unknown",
        "last_seen": state.last_seen.isoformat() if state and state.last_seen else None,
        "recording": state.recording if state else "idle",
        "findings": state.findings if state else [],
    }


def run(args: argparse.Namespace) -> int:
    """Print the cameras as a table or JSON."""
    ctx = Context(args.config, config_required=False)
    with ctx.sessions() as session:
        rows = inventory_rows(session)
    if args.json:
        print_json(rows)
    else:
        print(table(COLUMNS, [[r[c] for c in COLUMNS] for r in rows]))
        print(f"{len(rows)} cameras", file=sys.stderr)
    return 0
