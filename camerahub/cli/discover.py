"""`camerahub discover [--interface IFACE] [--targets RANGE,...] [--timeout S] [--json]
[--register]`: find ONVIF cameras, interrogate them and reconcile with the inventory."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from .common import EXIT_INVALID, EXIT_RUNTIME, CliError, Context, add_config_arg, print_json
from .common import table as text_table

if TYPE_CHECKING:
    from camerahub.discovery import DeviceResult, DiscoveryRun, DiscoveryService

COLUMNS = ("address", "camera", "site", "status", "model", "serial", "profiles", "clock",
           "findings")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the discover verb."""
    p = sub.add_parser("discover", help="find ONVIF cameras and reconcile with the inventory")
    p.add_argument("--interface", metavar="IFACE",
                   help="multicast WS-Discovery on this interface only")
    p.add_argument("--targets", metavar="RANGE,...", action="append", default=[],
                   help="unicast probes: addresses, a.b.c.d-a.b.c.e ranges or CIDR blocks")
    p.add_argument("--timeout", type=float, default=2.0, metavar="S",
                   help="probe listen window in seconds (default 2)")
    p.add_argument("--device-timeout", type=float, default=5.0, metavar="S",
                   help="time allowed to interrogate one device (default 5)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="a JSON list, one object per device")
    out.add_argument("--register", action="store_true",
                     help="print unconfigured cameras as a YAML snippet to review and commit")
    add_config_arg(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Discover, store state and events, print the outcome."""
    from camerahub.discovery import DiscoveryService, plan_ad_hoc
    from camerahub.onvif import ProbeError, TargetError, interface_address, split_targets

    if not 0.1 <= args.timeout <= 60 or not 0.5 <= args.device_timeout <= 120:
        raise CliError("--timeout must be 0.1-60 s and --device-timeout 0.5-120 s", EXIT_INVALID)
    ad_hoc = bool(args.targets or args.interface)
    ctx = Context(args.config, config_required=not ad_hoc)
    cfg = ctx.config
    try:
        targets = [t for text in args.targets for t in split_targets(text)]
        plan = plan_ad_hoc(cfg, targets, args.interface, args.timeout) if ad_hoc else None
        if args.interface:
            interface_address(args.interface)  # fail fast on an interface that is not there
    except TargetError as exc:
        raise CliError(f"invalid --targets: {exc}", EXIT_INVALID) from None
    except ProbeError as exc:
        raise CliError(str(exc), EXIT_INVALID) from None
    service = DiscoveryService(cfg, _sessions(ctx, ad_hoc), probe_timeout=args.timeout,
                               device_timeout=args.device_timeout, ca_file=ctx.camera_ca_file())
    try:
        result = _discover(service, plan, _progress_bar() if sys.stderr.isatty() else None)
    finally:
        service.close()
    _check_probes(result, ad_hoc)
    _print(args, result, cfg is not None and cfg.defaults.onvif_https)
    return 0


def _sessions(ctx: Context, ad_hoc: bool):
    """The inventory's sessions; an ad-hoc scan without an inventory lists devices only.

    Discovery must not create an empty inventory database as a side effect, so a scan of
    given targets or an interface, where no database exists yet, runs on an in-memory one
    and says that nothing was stored.
    """
    from camerahub.db.engine import DatabaseMissing, open_database, require_database

    try:
        require_database(ctx.runtime.database_url)
    except DatabaseMissing as exc:
        if not ad_hoc:
            return ctx.sessions  # raises the CLI's full "no database" message
        print(f"camerahub: {exc}: listing devices only, nothing is stored", file=sys.stderr)
        return open_database("sqlite://")[1]
    return ctx.sessions


def _discover(service: DiscoveryService, plan, progress) -> DiscoveryRun:
    """Run the plan, or every site's own settings; probe set-up errors become CLI errors."""
    from camerahub.onvif import ProbeError, TargetError

    try:
        return service.run(plan, progress) if plan is not None else service.run_once(
            on_progress=progress)
    except TargetError as exc:
        raise CliError(f"invalid discovery targets in the configuration: {exc}",
                       EXIT_INVALID) from None
    except ProbeError as exc:
        raise CliError(str(exc), EXIT_INVALID) from None
    finally:
        if progress is not None:
            sys.stderr.write("\n")


def _check_probes(result: DiscoveryRun, ad_hoc: bool) -> None:
    """A probe that could not even start is a failure for an explicit request."""
    if result.probe_errors and ad_hoc:  # the interface was checked up front: a runtime fault
        raise CliError(f"probe failed: {result.probe_errors[0]}", EXIT_RUNTIME)
    for error in result.probe_errors:
        print(f"camerahub: warning: probe failed: {error}", file=sys.stderr)


def _progress_bar():
    """A one-line progress bar on stderr (only when stderr is a terminal)."""
    def show(done: int, total: int) -> None:
        filled = int(30 * done / total) if total else 0
        sys.stderr.write(f"\rinterrogating [{'#' * filled}{'.' * (30 - filled)}] "
                         f"{done}/{total}")
        sys.stderr.flush()
    return show


def _print(args: argparse.Namespace, result: DiscoveryRun, https_default: bool) -> None:
    """JSON, a YAML snippet, or a table with a summary line on stderr."""
    if args.json:
        print_json([r.as_json() for r in result.results])
        return
    if args.register:
        sys.stdout.write(register_snippet(result.results, https_default))
        return
    print(text_table(COLUMNS, [_row(r) for r in result.results]))
    counts = ", ".join(f"{n} {status}" for status, n in sorted(result.counts().items()))
    print(f"{len(result.results)} devices ({counts or 'none'}) in {result.seconds:.1f} s",
          file=sys.stderr)


def _row(r: DeviceResult) -> list:
    rep = r.report
    profiles = " ".join(f"{p.token}:{p.width}x{p.height}" for p in rep.profiles) if rep else ""
    clock = f"{rep.clock_offset_s:+.1f}s" if rep and rep.clock_offset_s is not None else ""
    return [r.address, r.camera_id or "-", r.site or "-", r.status,
            rep.info.model if rep else "", rep.info.serial if rep else "", profiles, clock,
            ",".join(f.kind for f in r.findings)]


def register_snippet(results: list[DeviceResult], https_default: bool = False) -> str:
    """`cameras:` entries for unconfigured devices, with placeholders ops must fill in; each
    says onvif_https where it differs from the deployment's default (https_default)."""
    from urllib.parse import urlsplit

    import yaml

    entries = []
    for r in results:
        if r.camera_id is not None or not any(f.kind == "new" for f in r.findings):
            continue
        rep = r.report
        serial = rep.info.serial if rep else None
        entry = {"id": f"CHANGE-ME-{(serial or r.address.replace('.', '-')).lower()}",
                 "name": " ".join(filter(None, (rep.info.manufacturer, rep.info.model)))
                 if rep else f"camera at {r.address}",
                 "site": r.site or "CHANGE-ME-site", "room": "CHANGE-ME-room",
                 "address": r.address, "port": r.port}
        https = r.sighting is not None and urlsplit(r.sighting.xaddr).scheme == "https"
        if https != https_default:
            entry["onvif_https"] = https  # keep asking it the way it answered
        if serial:
            entry["serial"] = serial
        entries.append(entry)
    header = (f"# {len(entries)} unconfigured camera(s) found by camerahub discover.\n"
              "# Replace every CHANGE-ME placeholder, then add to the deployment file and "
              "run `camerahub deploy apply`.\n")
    if not entries:
        return header
    body = yaml.safe_dump({"cameras": entries}, allow_unicode=True, sort_keys=False)
    return header + body
