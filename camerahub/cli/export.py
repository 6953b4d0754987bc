"""`camerahub export --incident ID`, `camerahub export verify BUNDLE`, `export keygen`."""

from __future__ import annotations

import argparse
import getpass
import os
from pathlib import Path
from typing import TYPE_CHECKING

from .common import EXIT_INVALID, EXIT_RUNTIME, CliError, Context, add_config_arg, print_json

if TYPE_CHECKING:
    from camerahub.config import SecretRef


def register(sub: argparse._SubParsersAction) -> None:
    """Add the export verbs."""
    p = sub.add_parser("export", help="signed evidence bundles of an incident's footage")
    p.add_argument("--incident", type=int, help="incident id to export")
    p.add_argument("--out", type=Path, help="bundle file (default incident-ID.zip)")
    p.add_argument("--actor", help="who exports (recorded in the chain of custody)")
    p.add_argument("--camera", action="append", help="only this camera (repeatable)")
    add_config_arg(p)
    p.set_defaults(func=run_export)
    verbs = p.add_subparsers(dest="verb")
    v = verbs.add_parser("verify", help="check a bundle's signature and hashes")
    v.add_argument("bundle", type=Path)
    v.add_argument("--public-key", type=Path, help="trusted public key PEM (else from config)")
    v.add_argument("--json", action="store_true")
    add_config_arg(v)
    v.set_defaults(func=run_verify)
    k = verbs.add_parser("keygen", help="write a new Ed25519 signing key (PEM)")
    k.add_argument("out", type=Path)
    k.set_defaults(func=run_keygen)


def _signing_ref(ctx: Context) -> SecretRef:
    from camerahub.config import SecretRef

    exp = ctx.config.export
    if not (exp.signing_key_env or exp.signing_key_file):
        raise CliError("export.signing_key_env or signing_key_file is not configured",
                       EXIT_INVALID)
    if exp.signing_key_env:
        return SecretRef(env=exp.signing_key_env)
    return SecretRef(file=exp.signing_key_file)


def _signing_pem(ref: SecretRef) -> str:
    value = ref.resolve()
    # An env var may carry the PEM itself or the path of a PEM file.
    return Path(value).read_text(encoding="utf-8") if not value.startswith("-----") else value


def run_export(args: argparse.Namespace) -> int:
    """Build the bundle for --incident."""
    from camerahub.export import BundleError, build_bundle

    if args.incident is None:
        raise CliError("give --incident ID (or use: export verify BUNDLE)", EXIT_INVALID)
    ctx = Context(args.config)
    key = _load_key(_signing_pem(_signing_ref(ctx)))
    out = args.out or Path(f"incident-{args.incident}.zip")
    actor = _actor(args.actor)
    store = ctx.store()
    try:
        with ctx.sessions.begin() as s:
            manifest = build_bundle(s, store, args.incident, actor, key, out, args.camera)
    except BundleError as exc:
        raise CliError(str(exc), EXIT_INVALID) from None
    print(f"wrote {out}: {len(manifest['clips'])} clip(s), key {manifest['key_fingerprint']}")
    return 0


def _actor(given: str | None) -> str:
    """The typed audit actor of this export: --actor as a user id, else the OS account."""
    from camerahub.audit import actors

    if not given:
        return actors.actor(actors.SYSTEM, f"cli:{getpass.getuser()}")
    try:
        actors.parse(actors.as_filter(given))
    except ValueError as exc:
        raise CliError(f"--actor: {exc}", EXIT_INVALID) from None
    return actors.as_filter(given)


def _load_key(pem: str):
    from camerahub.export import BundleError, load_private_key

    try:
        return load_private_key(pem)
    except BundleError as exc:
        raise CliError(str(exc), EXIT_INVALID) from None


def run_verify(args: argparse.Namespace) -> int:
    """Verify a bundle; exit 1 on any change."""
    from camerahub.export import verify_bundle

    trusted = _trusted_key(args)
    report = verify_bundle(args.bundle, trusted)
    if args.json:
        print_json(report.__dict__)
    else:
        state = "OK" if report.ok else "FAILED"
        trust = "trusted key" if report.trusted_key else "key embedded in the bundle (untrusted)"
        print(f"{state}: {report.clips} clip(s); signature checked with {trust} "
              f"{report.key_fingerprint}")
        for problem in report.problems:
            print(f"  - {problem}")
    return 0 if report.ok else EXIT_RUNTIME


def _trusted_key(args: argparse.Namespace):
    from camerahub.export import BundleError, load_public_key

    if args.public_key:
        try:
            return load_public_key(args.public_key.read_bytes())
        except (OSError, BundleError) as exc:
            raise CliError(f"public key {args.public_key}: {exc}", EXIT_INVALID) from None
    ctx = Context(args.config, config_required=False)
    if ctx.config is None or not (ctx.config.export.signing_key_env
                                  or ctx.config.export.signing_key_file):
        return None
    try:
        return _load_key(_signing_pem(_signing_ref(ctx))).public_key()
    except Exception:  # noqa: BLE001 - no usable configured key: fall back to the embedded one
        return None


def run_keygen(args: argparse.Namespace) -> int:
    """Write a new signing key, readable by the owner only."""
    from camerahub.export import generate_key

    if args.out.exists():
        raise CliError(f"{args.out} exists; refusing to overwrite a signing key", EXIT_INVALID)
    fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(generate_key())
    print(f"wrote {args.out}")
    return 0
