"""What every subcommand shares: settings, job modules, one-line errors."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, NoReturn

from pydantic import ValidationError

from jobdesk.config import Settings, load_settings
from jobdesk.core.errors import JobdeskError
from jobdesk.core.registry import Registry, describe, load_job_modules


class CliError(Exception):
    """A problem the user can fix; printed as one line, exit status 2."""


def fail(message: str, status: int = 2) -> NoReturn:
    print(f"jobdesk: error: {message}", file=sys.stderr)
    raise SystemExit(status)


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--jobs-module",
        action="append",
        default=[],
        metavar="MOD",
        help="import MOD to register job types (repeatable; also JOBDESK_JOB_MODULES)",
    )


def settings_from(args: argparse.Namespace) -> Settings:
    modules = list(getattr(args, "jobs_module", []) or [])
    try:
        settings = load_settings()
    except ValidationError as exc:
        raise CliError(f"invalid configuration: {describe(exc)}") from None
    if modules:
        merged = [*settings.job_module_list, *modules]
        settings.job_modules = ",".join(dict.fromkeys(merged))
        # Worker processes started from here read the same list.
        os.environ["JOBDESK_JOB_MODULES"] = settings.job_modules
    return settings


def registry_from(settings: Settings) -> Registry:
    try:
        return load_job_modules(settings.job_module_list)
    except ImportError as exc:
        raise CliError(str(exc)) from None


def run_guarded(fn: Callable[[argparse.Namespace], int | None], args: argparse.Namespace) -> int:
    """Run a subcommand; expected failures become one line on stderr."""
    try:
        return int(fn(args) or 0)
    except CliError as exc:
        fail(str(exc))
    except JobdeskError as exc:
        fail(exc.message)
    except KeyboardInterrupt:
        return 130


if TYPE_CHECKING:
    from jobdesk.store.jobs import JobStore


async def with_store(settings: Settings, fn: Callable[[JobStore], Awaitable[Any]]) -> int:
    """For commands that go straight to PostgreSQL: migrate, lend `fn` a store, close it."""
    from jobdesk.store import migrate
    from jobdesk.store.db import open_pool
    from jobdesk.store.jobs import JobStore

    await asyncio.to_thread(migrate.upgrade, settings.database_url)
    pool = await open_pool(settings.database_url, max_size=2)
    try:
        return int(await fn(JobStore(pool)))
    finally:
        await pool.close()
