"""`camerahub user set-password USER [--password-stdin]`, `user revoke USER`, `user unlock USER`."""

from __future__ import annotations

import argparse
import getpass
import sys

from .common import EXIT_INVALID, CliError, Context, add_config_arg, audited_change


def register(sub: argparse._SubParsersAction) -> None:
    """Add the user verbs."""
    parser = sub.add_parser("user", help="passwords and sessions of users")
    verbs = parser.add_subparsers(dest="verb", required=True)
    p = verbs.add_parser("set-password", help="set a user's password (argon2id)")
    p.add_argument("user")
    p.add_argument("--password-stdin", action="store_true",
                   help="read the password from the first line of stdin")
    p.set_defaults(func=run_set_password)
    for verb, func, text in (("revoke", run_revoke, "end every session of the user"),
                             ("unlock", run_unlock, "clear a sign-in lockout")):
        q = verbs.add_parser(verb, help=text)
        q.add_argument("user")
        q.set_defaults(func=func)
    for q in verbs.choices.values():
        add_config_arg(q)


def read_password(from_stdin: bool) -> str:
    """The new password from stdin or, interactively, typed twice."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise CliError("no terminal to prompt on; use --password-stdin", EXIT_INVALID)
    first = getpass.getpass("New password: ")
    if getpass.getpass("Repeat: ") != first:
        raise CliError("the passwords do not match", EXIT_INVALID)
    return first


def run_set_password(args: argparse.Namespace) -> int:
    """Check the policy, store the hash, end existing sessions, audit."""
    from camerahub.authz import accounts
    from camerahub.authz.errors import PasswordPolicyError, UnknownAccount
    from camerahub.authz.passwords import Passwords

    ctx = Context(args.config)
    password = read_password(args.password_stdin)
    audited_change(ctx, "user.set-password", {"user": args.user},
                   lambda session: accounts.set_password(session, Passwords(), ctx.config.auth,
                                                         args.user, password),
                   (PasswordPolicyError, UnknownAccount))
    print(f"password set for {args.user}; existing sessions ended")
    return 0


def _change(args: argparse.Namespace, action: str, change) -> None:
    from camerahub.authz.errors import UnknownAccount

    ctx = Context(args.config, config_required=False)
    audited_change(ctx, action, {"user": args.user},
                   lambda session: change(session, args.user), (UnknownAccount,))


def run_revoke(args: argparse.Namespace) -> int:
    """Bump the user's token_version: every token issued so far stops working."""
    from camerahub.authz import accounts

    _change(args, "user.revoke", accounts.revoke_sessions)
    print(f"sessions of {args.user} revoked")
    return 0


def run_unlock(args: argparse.Namespace) -> int:
    """Clear failed sign-ins and any lockout."""
    from camerahub.authz import accounts

    def unlock(session, user_id):
        user = accounts.require_user(session, user_id)
        user.failed_logins, user.locked_until = 0, None

    _change(args, "user.unlock", unlock)
    print(f"{args.user} unlocked")
    return 0
