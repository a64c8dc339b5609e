"""`jobdesk token create|revoke|list`: API tokens for REST and WebSocket clients."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import Any

import psycopg

from jobdesk.cli.common import CliError, add_common, settings_from
from jobdesk.store import migrate, tokens
from jobdesk.store.db import connect_sync


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("token", help="API tokens (create, revoke, list)")
    tsub = p.add_subparsers(dest="token_command", metavar="ACTION", required=True)

    create = tsub.add_parser("create", help="print a new token (shown once; stored hashed)")
    create.add_argument("--user", required=True, help="the user id jobs created with it belong to")
    create.add_argument("--org", required=True, help="the organization whose jobs it sees")
    create.add_argument("--admin", action="store_true", help="see every organization's jobs")
    create.add_argument("--name", default="", help="a note to tell tokens apart")
    add_common(create)
    create.set_defaults(func=run_create)

    revoke = tsub.add_parser("revoke", help="revoke a token by its id")
    revoke.add_argument(
        "id", help="the token's id, as `jobdesk token list` shows it (a unique prefix will do)"
    )
    add_common(revoke)
    revoke.set_defaults(func=run_revoke)

    listing = tsub.add_parser("list", help="list tokens (never the tokens themselves)")
    add_common(listing)
    listing.set_defaults(func=run_list)


def _connect(args: argparse.Namespace) -> psycopg.Connection[Any]:
    settings = settings_from(args)
    migrate.upgrade(settings.database_url)
    return connect_sync(settings.database_url)


def run_create(args: argparse.Namespace) -> int:
    with _connect(args) as conn:
        token, info = tokens.create(conn, args.user, args.org, is_admin=args.admin, name=args.name)
    # The token alone on stdout, so that `TOKEN=$(jobdesk token create ...)` works.
    print(token)
    role = "admin" if info.is_admin else "member"
    print(
        f"token {info.id} ({role}, user {info.user_id}, organization {info.organization_id}); "
        "it is shown only now",
        file=sys.stderr,
    )
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    with _connect(args) as conn:
        info = tokens.revoke(conn, args.id)
    if info is None:
        raise CliError(f"no token with id {args.id!r}; see `jobdesk token list`")
    print(f"revoked token {info.id} (user {info.user_id}, organization {info.organization_id})")
    return 0


def run_list(args: argparse.Namespace) -> int:
    with _connect(args) as conn:
        rows = tokens.list_tokens(conn)
    if not rows:
        print("no tokens; create one with `jobdesk token create --user U --org O`")
        return 0
    header = ("ID", "NAME", "USER", "ORGANIZATION", "ROLE", "CREATED", "LAST USED", "REVOKED")
    table = [header] + [
        (
            t.id,
            t.name or "-",
            t.user_id,
            t.organization_id,
            "admin" if t.is_admin else "member",
            _when(t.created_at),
            _when(t.last_used_at),
            _when(t.revoked_at),
        )
        for t in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _when(value: datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M") if value else "-"
