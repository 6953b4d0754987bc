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
    p.add_argument("--unmasked", action="store_true",
                   help="leave out the cameras' privacy masks (needs --actor of a "
                        "crisis-management user and --reason; recorded as such)")
    p.add_argument("--reason", help="why the export is unmasked")
    add_config_arg(p)
    p.set_defaults(func=run_export)
    verbs = p.add_subparsers(dest="verb")
    v = verbs.add_parser("verify", help="check a bundle's signature and hashes "
                                         "(exit 0 verified, 1 tampered or wrong key, 2 bad "
                                         "input)")
    v.add_argument("bundle", type=Path)
    v.add_argument("--key", "--public-key", dest="public_key", type=Path, metavar="PUBLIC.pem",
                   help="the trusted public key (else export.trusted_public_key_file, else "
                        "the configured signing key's)")
    v.add_argument("--accept-embedded-key", action="store_true",
                   help="with no trusted key, accept the key the bundle carries (this shows "
                        "the bundle is intact, not who made it)")
    v.add_argument("--json", action="store_true")
    add_config_arg(v)
    v.set_defaults(func=run_verify)
    k = verbs.add_parser("keygen", help="write a new Ed25519 signing key (PEM) and its "
                                         "public key (OUT.pub.pem); print the fingerprint")
    k.add_argument("out", type=Path)
    k.add_argument("--public-out", type=Path, metavar="FILE",
                   help="where the public key goes (default OUT with .pub.pem)")
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
    privacy = {cam.id: cam.privacy for cam in ctx.config.cameras if cam.privacy.active}
    try:
        with ctx.sessions.begin() as s:
            reason = _unmasked_reason(s, ctx, args, actor) if args.unmasked else None
            manifest = build_bundle(s, store, args.incident, actor, key, out, args.camera,
                                    privacy=privacy, unmasked_reason=reason)
    except BundleError as exc:
        raise CliError(str(exc), EXIT_INVALID) from None
    masked = manifest["disclosure"].get("masks_applied") or []
    note = (f"UNMASKED ({reason})" if args.unmasked
            else f"masks applied to {', '.join(masked)}" if masked else "no masks configured")
    print(f"wrote {out}: {len(manifest['clips'])} clip(s), {note}, key "
          f"{manifest['key_fingerprint']}")
    return 0


def _unmasked_reason(session, ctx: Context, args: argparse.Namespace, actor: str) -> str:
    """The reason of an unmasked export, once --actor is an active crisis-management user."""
    from camerahub.audit import actors
    from camerahub.db import models as m
    from camerahub.incidents.errors import IncidentError
    from camerahub.incidents.service import check_unmasked

    kind, ident = actors.parse(actor)
    user = session.get(m.User, ident) if kind == actors.USER else None
    role = user.role if user is not None and user.active else None
    try:
        check_unmasked(role, args.reason, ctx.config.access.reason_min_length)
    except IncidentError as exc:
        raise CliError(f"{exc} (give --actor USER of that role and --reason)",
                       EXIT_INVALID) from None
    return args.reason.strip()


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
    """Verify a bundle: 0 verified with a trusted key, 1 tampered or wrong/untrusted key, 2 a
    bundle or key that cannot be read."""
    from camerahub.export import verify_bundle

    _check_readable_bundle(args.bundle)
    trusted = _trusted_key(args)
    report = verify_bundle(args.bundle, trusted)
    untrusted_only = report.ok and not report.trusted_key and not args.accept_embedded_key
    if args.json:
        print_json({**report.__dict__, "verified": report.ok and not untrusted_only})
    else:
        _print_report(report, untrusted_only)
    return EXIT_RUNTIME if not report.ok or untrusted_only else 0


def _check_readable_bundle(path: Path) -> None:
    """A missing, unreadable or non-zip file is invalid input (2), not a tampered bundle."""
    import zipfile

    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise CliError(f"bundle {path}: {exc.strerror or exc}", EXIT_INVALID) from None
    if not zipfile.is_zipfile(path):
        raise CliError(f"bundle {path}: not a zip file (not a camerahub evidence bundle)",
                       EXIT_INVALID)


def _print_report(report, untrusted_only: bool) -> None:
    """One verdict line, then each problem."""
    if not report.ok:
        print(f"FAILED: {report.clips} clip(s); key {report.key_fingerprint}")
    elif untrusted_only:
        print(f"NOT VERIFIED: the signature matches only the key embedded in the bundle "
              f"({report.key_fingerprint}), which anyone could have put there. Give the "
              "ward office's public key with --key PUBLIC.pem (compare its fingerprint out "
              "of band), or --accept-embedded-key to check integrity only.")
    else:
        trust = "trusted key" if report.trusted_key else "embedded key (accepted, untrusted)"
        print(f"OK: {report.clips} clip(s); signature checked with {trust} "
              f"{report.key_fingerprint}")
    for problem in report.problems:
        print(f"  - {problem}")


def _trusted_key(args: argparse.Namespace):
    """--key, else the configured trusted public key, else the configured signing key's
    public half, else None (only the embedded key: never plain success)."""
    if args.public_key:
        return _public_key(args.public_key)
    ctx = Context(args.config, config_required=False)
    if ctx.config is not None and ctx.config.export.trusted_public_key_file:
        path = ctx.config.export.trusted_public_key_file
        return _public_key(path if path.is_absolute() else ctx.path.parent / path)
    if ctx.config is None or not (ctx.config.export.signing_key_env
                                  or ctx.config.export.signing_key_file):
        return None
    try:
        return _load_key(_signing_pem(_signing_ref(ctx))).public_key()
    except Exception:  # noqa: BLE001 - no usable configured key: fall back to the embedded one
        return None


def _public_key(path: Path):
    """A trusted public key from a PEM file; unreadable or not a key is invalid input (2)."""
    from camerahub.export import BundleError, load_public_key

    try:
        return load_public_key(path.read_bytes())
    except (OSError, BundleError) as exc:
        raise CliError(f"public key {path}: {exc}", EXIT_INVALID) from None


def run_keygen(args: argparse.Namespace) -> int:
    """Write a new signing key (owner-only) and its public key; print the fingerprint."""
    from camerahub.export import fingerprint, generate_key, load_private_key, public_pem

    public = args.public_out or args.out.with_name(args.out.name.removesuffix(".pem")
                                                   + ".pub.pem")
    for path in (args.out, public):
        if path.exists():
            raise CliError(f"{path} exists; refusing to overwrite a key", EXIT_INVALID)
    private = generate_key()
    key = load_private_key(private)
    _write_new(args.out, private, 0o600)
    _write_new(public, public_pem(key), 0o644)
    print(f"wrote {args.out} (private: keep it secret) and {public} (public: hand it to "
          "verifiers)")
    print(f"fingerprint {fingerprint(key.public_key())}")
    return 0


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create path (never replacing a file) with data and mode."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except OSError as exc:
        raise CliError(f"{path}: {exc.strerror or exc}", EXIT_INVALID) from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
