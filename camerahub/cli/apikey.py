"""`camerahub apikey create --name N --scope SCOPE | list | revoke NAME`."""

from __future__ import annotations

import argparse

from .common import (
    EXIT_INVALID,
    CliError,
    Context,
    add_config_arg,
    audited_change,
    print_json,
    table,
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the apikey verbs."""
    parser = sub.add_parser("apikey", help="API keys of machine clients")
    verbs = parser.add_subparsers(dest="verb", required=True)
    p = verbs.add_parser("create", help="create a key and print it once")
    p.add_argument("--name", required=True)
    p.add_argument("--scope", required=True, help="deploy, health or alerts:<source-id>")
    p.set_defaults(func=run_create)
    p = verbs.add_parser("list", help="list keys (never the keys themselves)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_list)
    p = verbs.add_parser("revoke", help="revoke a key by name")
    p.add_argument("name")
    p.set_defaults(func=run_revoke)
    for q in verbs.choices.values():
        add_config_arg(q)


def _sources(ctx: Context) -> set[str] | None:
    cfg = ctx.config
    return {s.id for s in cfg.alert_sources} if cfg is not None else None


def run_create(args: argparse.Namespace) -> int:
    """Store the key's hash and print the key on stdout, once."""
    from camerahub import audit
    from camerahub.authz import accounts
    from camerahub.authz.errors import InvalidRequest, UnknownAccount

    ctx = Context(args.config, config_required=False)
    if not args.name or len(args.name) > 63:
        raise CliError("--name must be 1 to 63 characters", EXIT_INVALID)
    with ctx.sessions() as session:
        try:
            _row, key = accounts.create_api_key(session, args.name, args.scope, _sources(ctx))
        except (InvalidRequest, UnknownAccount) as exc:
            raise CliError(str(exc), EXIT_INVALID) from None
        audit.append(session, actor=audit.actors.CLI, action="apikey.create", decision="info",
                     detail={"name": args.name, "scope": args.scope})
        session.commit()
    print(key)
    return 0


def run_list(args: argparse.Namespace) -> int:
    """Name, scope, prefix, created, last used, revoked."""
    from sqlalchemy import select

    from camerahub.db import models as m

    ctx = Context(args.config, config_required=False)
    with ctx.sessions() as session:
        rows = [{"name": k.name, "scope": k.scope, "prefix": k.prefix,
                 "created_at": k.created_at, "last_used_at": k.last_used_at,
                 "revoked_at": k.revoked_at}
                for k in session.scalars(select(m.ApiKey).order_by(m.ApiKey.name))]
    if args.json:
        print_json(rows)
    else:
        cols = ("name", "scope", "prefix", "created_at", "last_used_at", "revoked_at")
        print(table(cols, [[r[c] for c in cols] for r in rows]))
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    """Revoke a key; it is refused from the next request on."""
    from camerahub.authz import accounts
    from camerahub.authz.errors import UnknownAccount

    ctx = Context(args.config, config_required=False)
    audited_change(ctx, "apikey.revoke", {"name": args.name},
                   lambda session: accounts.revoke_api_key(session, args.name), (UnknownAccount,))
    print(f"API key {args.name} revoked")
    return 0
