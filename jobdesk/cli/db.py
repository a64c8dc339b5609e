"""`jobdesk db upgrade|cleanup`."""

from __future__ import annotations

import argparse
import asyncio
import re

from jobdesk.cli.common import CliError, add_common, settings_from
from jobdesk.store import migrate

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_age(text: str) -> float:
    """'30d', '12h', '90m', '45s', '2w' -> seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text or "")
    if not m:
        raise CliError(f"invalid age {text!r}: use a number and a unit, like 30d, 12h or 90m")
    return float(m.group(1)) * _UNITS[m.group(2)]


def register(sub: argparse._SubParsersAction) -> None:
    db = sub.add_parser("db", help="database schema and housekeeping")
    dbsub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = dbsub.add_parser("upgrade", help="apply schema migrations")
    add_common(up)
    up.set_defaults(func=upgrade)
    clean = dbsub.add_parser("cleanup", help="delete finished jobs older than an age")
    clean.add_argument("--older-than", required=True, metavar="AGE", help="e.g. 30d, 12h")
    add_common(clean)
    clean.set_defaults(func=cleanup)


def upgrade(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    applied = migrate.upgrade(settings.database_url)
    print(f"applied {len(applied)} migration(s){': ' + ', '.join(applied) if applied else ''}")
    return 0


def cleanup(args: argparse.Namespace) -> int:
    age = parse_age(args.older_than)
    settings = settings_from(args)
    migrate.upgrade(settings.database_url)

    async def run() -> int:
        from jobdesk.core.registry import Registry
        from jobdesk.service.jobs import JobsService
        from jobdesk.store.db import open_pool
        from jobdesk.store.jobs import JobStore

        pool = await open_pool(settings.database_url, max_size=1)
        try:
            return await JobsService(JobStore(pool), Registry(), settings).cleanup(age)
        finally:
            await pool.close()

    deleted = asyncio.run(run())
    print(f"deleted {deleted} finished job(s) older than {args.older_than}")
    return 0
