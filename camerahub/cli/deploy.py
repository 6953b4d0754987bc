"""`camerahub deploy plan|apply -f FILE [--prune] [--json]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from camerahub.config import load_config
from camerahub.db.engine import inventory_write
from camerahub.deploy import Change, Plan, apply_plan, plan_changes
from camerahub.deploy.inventory import config_changed

from .common import Context, add_config_arg, print_json, read_text

SYMBOL = {"add": "+", "change": "~", "remove": "-", "keep": "!"}


def register(sub: argparse._SubParsersAction) -> None:
    """Add the deploy verbs."""
    parser = sub.add_parser("deploy", help="plan or apply a deployment file")
    verbs = parser.add_subparsers(dest="verb", required=True)
    for verb, helptext in (("plan", "show what would change"), ("apply", "apply atomically")):
        p = verbs.add_parser(verb, help=helptext)
        p.add_argument("-f", "--file", required=True, type=Path, help="deployment YAML")
        p.add_argument("--prune", action="store_true", help="also remove what the file omits")
        p.add_argument("--json", action="store_true", help="machine-readable output")
        add_config_arg(p)
        p.set_defaults(func=run_plan if verb == "plan" else run_apply)


def _context(args: argparse.Namespace) -> Context:
    # The file being deployed is also the config unless --config names another.
    return Context(args.config or str(args.file))


def run_plan(args: argparse.Namespace) -> int:
    """Print the plan; changes nothing."""
    cfg = load_config(args.file)
    ctx = _context(args)
    with ctx.sessions() as session:
        plan = plan_changes(session, cfg, prune=args.prune)
        plan.settings_changed = config_changed(session, read_text(args.file))
    _report(args, plan, applied=False)
    return 0


def run_apply(args: argparse.Namespace) -> int:
    """Apply in one transaction holding the inventory lock; all or nothing."""
    cfg = load_config(args.file)
    text = read_text(args.file)
    ctx = _context(args)
    with inventory_write(ctx.sessions) as session:
        plan = plan_changes(session, cfg, prune=args.prune)
        plan.settings_changed = config_changed(session, text)
        deployment = apply_plan(session, plan, text, str(args.file.resolve()))
        if deployment is not None:
            _audit(session, plan, deployment.config_sha256, str(args.file))
    _report(args, plan, applied=deployment is not None)
    return 0


def _audit(session, plan: Plan, sha: str, source: str) -> None:
    from camerahub import audit  # the audit module is optional for plan

    audit.append(session, actor="cli", action="deploy.apply", decision="allow",
                 detail={"config_sha256": sha, "source": source, "summary": plan.summary()})


def _report(args: argparse.Namespace, plan: Plan, applied: bool) -> None:
    if args.json:
        print_json({"file": str(args.file), "applied": applied, "prune": plan.prune,
                    "settings_changed": plan.settings_changed,
                    "summary": plan.summary(), "changes": [c.as_json() for c in plan.changes]})
        return
    out = sys.stdout
    for change in plan.changes:
        out.write(_describe(change) + "\n")
    out.write(_summary_line(plan, applied) + "\n")


def _describe(change: Change) -> str:
    head = f"{SYMBOL[change.op]} {change.kind[:-1]} {change.id}"
    if change.op == "add":
        shown = {k: v for k, v in change.fields.items() if k in
                 ("name", "site_id", "room_id", "address", "role", "scope", "kind", "parent_id")}
        return head + "  " + " ".join(f"{k}={v}" for k, v in shown.items())
    if change.op == "change":
        return head + "  " + "; ".join(f"{k}: {o!r} -> {n!r}" for k, (o, n) in
                                       change.fields.items())
    if change.op == "keep":
        return head + "  (not in the file; kept, use --prune to remove)"
    return head


def _summary_line(plan: Plan, applied: bool) -> str:
    if not plan.effective() and applied:
        return "Inventory unchanged; the file's other settings were recorded as a new deployment."
    if not plan.effective() and plan.settings_changed and not applied:
        return ("Inventory matches. Other settings differ from the last deployment; "
                "apply records them.")
    if not plan.effective():
        return "No changes. The inventory already matches the file."
    parts = []
    for kind, ops in plan.summary().items():
        counts = ", ".join(f"{n} to {op}" for op, n in ops.items() if n and op != "keep")
        if counts:
            parts.append(f"{kind}: {counts}")
    cams = [c for c in plan.changes if c.kind == "cameras" and c.op == "add"]
    if cams:
        hq = sum(1 for c in cams if c.fields.get("site_id") == "hq")
        parts.append(f"new cameras: {hq} at headquarters, {len(cams) - hq} at other sites")
    verb = "Applied" if applied else "Plan"
    return f"{verb}: " + "; ".join(parts) + "."
