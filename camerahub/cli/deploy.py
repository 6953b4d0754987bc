"""`camerahub deploy plan|apply -f FILE [--prune] [--json] [--devices [--only CAMERA,...]]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from camerahub.deploy.limits import DEFAULT_TIMEOUT_S, DEFAULT_WORKERS

from .common import (
    EXIT_INVALID,
    EXIT_OK,
    EXIT_RUNTIME,
    CliError,
    Context,
    add_config_arg,
    checked_ca_file,
    print_json,
    read_text,
)

if TYPE_CHECKING:
    from camerahub.config import Config
    from camerahub.deploy import Change, Plan
    from camerahub.deploy.devices import DeviceOutcome, DeviceRollout, DeviceRun

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
        p.add_argument("--devices", action=argparse.BooleanOptionalAction, default=None,
                       help="also read (plan) or push (apply) the cameras' device settings "
                            "over ONVIF; on when the file has a devices: section or a "
                            "camera's device: block, --no-devices skips it")
        p.add_argument("--only", metavar="CAMERA,...", default="",
                       help="limit the device part to these camera ids")
        p.add_argument("--device-workers", type=int, default=DEFAULT_WORKERS, metavar="N",
                       help=f"cameras handled at once (default {DEFAULT_WORKERS})")
        p.add_argument("--device-timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="S",
                       help=f"seconds per camera (default {DEFAULT_TIMEOUT_S:g})")
        add_config_arg(p)
        p.set_defaults(func=run_plan if verb == "plan" else run_apply)


def _context(args: argparse.Namespace) -> Context:
    # The file being deployed is also the config unless --config names another.
    return Context(args.config or str(args.file), create_database=True)


def run_plan(args: argparse.Namespace) -> int:
    """Print the plan; changes nothing."""
    from camerahub.config import load_config
    from camerahub.deploy import plan_changes
    from camerahub.deploy.inventory import config_changed

    cfg = load_config(args.file)
    ctx = _context(args)
    rollout = _rollout(args, cfg)
    try:
        with ctx.sessions() as session:
            plan = plan_changes(session, cfg, prune=args.prune)
            plan.settings_changed = config_changed(session, read_text(args.file))
    except BaseException:
        if rollout is not None:
            rollout.close()
        raise
    devices = _devices(args, rollout, apply=False)
    _report(args, plan, applied=False, devices=devices, cfg=cfg)
    return _exit_code(devices)


def run_apply(args: argparse.Namespace) -> int:
    """Apply in one transaction holding the inventory lock; all or nothing."""
    from camerahub.config import load_config
    from camerahub.db.engine import inventory_write
    from camerahub.deploy import apply_plan, plan_changes
    from camerahub.deploy.devices import record_verified
    from camerahub.deploy.inventory import config_changed

    cfg = load_config(args.file)
    text = read_text(args.file)
    ctx = _context(args)
    rollout = _rollout(args, cfg)
    try:
        with inventory_write(ctx.sessions) as session:
            plan = plan_changes(session, cfg, prune=args.prune)
            plan.settings_changed = config_changed(session, text)
            deployment = apply_plan(session, plan, text, str(args.file.resolve()))
            if deployment is not None:
                _audit(session, plan, deployment.config_sha256, str(args.file))
    except BaseException:
        if rollout is not None:
            rollout.close()
        raise
    # Devices after the inventory transaction: they cannot be part of it (no rollback).
    devices = _devices(args, rollout, apply=True)
    if devices is not None:
        with ctx.sessions() as session:
            record_verified(session, devices)
            session.add(_rollout_event(devices))  # the ops console shows the last one
            session.commit()
    _report(args, plan, applied=deployment is not None, devices=devices, cfg=cfg)
    return _exit_code(devices)


def _rollout(args: argparse.Namespace, cfg: Config) -> DeviceRollout | None:
    """The device part, else None: on by default when the file has desired device settings.

    --no-devices skips it (an inventory-only deploy never touches a camera). Its inputs (the
    flags, --only, the cameras' CA file) are checked here, before the inventory is changed,
    so a bad one changes nothing.
    """
    from camerahub.config import camera_ca_file
    from camerahub.deploy.devices import DeviceRollout, DeviceSelectionError, select_cameras

    wanted = cfg.manages_devices() if args.devices is None else args.devices
    if not wanted:
        return None
    if args.device_workers < 1 or args.device_timeout <= 0:
        raise CliError("--device-workers and --device-timeout must be positive", EXIT_INVALID)
    try:
        select_cameras(cfg, _only(args))
    except DeviceSelectionError as exc:
        raise CliError(str(exc), EXIT_INVALID) from None
    # defaults.tls_ca_file is relative to the file being deployed
    ca_file = checked_ca_file(camera_ca_file(cfg, args.file))
    return DeviceRollout(cfg, workers=args.device_workers, timeout=args.device_timeout,
                         ca_file=ca_file)


def _only(args: argparse.Namespace) -> list[str] | None:
    return args.only.split(",") if args.only else None


def _devices(args: argparse.Namespace, rollout: DeviceRollout | None, apply: bool
             ) -> DeviceRun | None:
    """Plan or apply the device settings with a rollout from _rollout (closed here)."""
    if rollout is None:
        return None
    try:
        return rollout.run(apply, _only(args))
    finally:
        rollout.close()


def _rollout_event(devices):
    """An event saying how the device rollout went (counts, and the cameras that failed)."""
    from camerahub.db import models as m

    summary = devices.summary()
    failed = [{"camera": o.camera_id, "status": o.status, "error": o.error_kind}
              for o in devices.outcomes if o.status in ("failed", "invalid")][:100]
    return m.Event(kind="deploy.devices", severity="info" if devices.ok else "warning",
                   message=f"device rollout: {summary['applied']} applied, "
                           f"{summary['unchanged']} unchanged, {len(failed)} failed",
                   data={"summary": summary, "failed": failed, "applied": devices.applied})


def _exit_code(devices: DeviceRun | None) -> int:
    """2 when a camera's settings are invalid for it, 1 when a camera failed, else 0."""
    if devices is None or devices.ok:
        return EXIT_OK
    return EXIT_INVALID if devices.count("invalid") else EXIT_RUNTIME


def _audit(session, plan: Plan, sha: str, source: str) -> None:
    from camerahub import audit  # the audit module is optional for plan

    audit.append(session, actor=audit.actors.CLI, action="deploy.apply", decision="allow",
                 detail={"config_sha256": sha, "source": source, "summary": plan.summary()})


def _report(args: argparse.Namespace, plan: Plan, applied: bool,
            devices: DeviceRun | None = None, cfg: Config | None = None) -> None:
    if args.json:
        print_json({"file": str(args.file), "applied": applied, "prune": plan.prune,
                    "settings_changed": plan.settings_changed,
                    "summary": plan.summary(), "changes": [c.as_json() for c in plan.changes],
                    "devices": devices.as_json() if devices is not None else None})
        return
    out = sys.stdout
    for change in plan.changes:
        out.write(_describe(change) + "\n")
    out.write(summary_line(plan, applied) + "\n")
    if devices is not None:
        out.write(_device_report(devices))
    elif args.devices is False and cfg is not None and cfg.manages_devices():
        out.write("Device settings not checked (--no-devices).\n")


DEVICE_SYMBOL = {"change": "~", "applied": "=", "invalid": "!", "failed": "x"}


def _device_report(run: DeviceRun) -> str:
    """Per-camera lines, a summary and what a device change means for recording."""
    lines = ["Devices (not atomic: each camera is changed and read back on its own; "
             "no rollback):"]
    lines += _device_lines([o for o in run.outcomes if o.status != "unchanged"])
    counts = run.summary()
    verb = {"change": "to change" if not run.applied else "left to change",
            "applied": "changed and verified"}
    parts = [f"{n} {verb.get(k, k)}" for k, n in counts.items() if n]
    lines.append(f"Devices: {', '.join(parts) or 'no cameras with device settings'} "
                 f"({run.seconds:.1f} s).")
    if any(o.restarts for o in run.outcomes if o.status in ("change", "applied")):
        lines.append("Note: an encoder change restarts that camera's stream; a recorder "
                     "reconnects and records a gap.")
    return "\n".join(lines) + "\n"


def _device_lines(outcomes: list[DeviceOutcome]) -> list[str]:
    """One line per camera, except that one missing secret is said once, not per camera."""
    shared: dict[str, list[str]] = {}
    lines = []
    for o in outcomes:
        if o.status == "failed" and o.error_kind == "credential":
            shared.setdefault(o.error or "", []).append(o.camera_id)
        else:
            lines.append(_device_line(o))
    for error, cameras in shared.items():
        names = ", ".join(cameras[:3]) + (f" and {len(cameras) - 3} more" if len(cameras) > 3
                                          else "")
        lines.append(f"x {len(cameras)} camera(s) ({names})  failed (credential): {error}")
    return lines


def _device_line(o: DeviceOutcome) -> str:
    """One camera: its changes, or why it failed."""
    head = f"{DEVICE_SYMBOL.get(o.status, '?')} device {o.camera_id}"
    if o.status in ("failed", "invalid"):
        return f"{head}  {o.status} ({o.error_kind}): {o.error}"
    text = f"{head}  " + "; ".join(str(c) for c in o.changes)
    if o.restarts:
        text += f"  [restarts {', '.join(o.restarts)} stream]"
    return text


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


def summary_line(plan: Plan, applied: bool) -> str:
    """The plan's outcome in one line (deploy plan/apply and the demo print it)."""
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
