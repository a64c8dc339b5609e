"""`jobdesk limits list|set|remove`: rate limits per job type or organization, straight in PostgreSQL.

Every server's dispatcher reads the same rows (it locks them for each
dispatch round), so a limit set here holds across all servers within a
second; these commands need PostgreSQL only, not Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from jobdesk.cli.common import CliError, add_common, registry_from, settings_from, with_store
from jobdesk.config import Settings
from jobdesk.core.errors import UnknownJobType
from jobdesk.core.registry import Registry


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("limits", help="list, set or remove rate limits (per job type or organization)")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    ls = actions.add_parser("list", help="show every rate limit")
    ls.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_common(ls)
    ls.set_defaults(func=run_list)

    put = actions.add_parser("set", help="create or replace the limit of a job type or an organization")
    _subject(put)
    # Parsed here rather than by argparse, so that a bad value is one line like every other error.
    put.add_argument("--per-second", metavar="N", help="at most N jobs dispatched a second (bursts of N)")
    put.add_argument("--max-concurrent", metavar="N", help="at most N jobs in flight at once")
    put.set_defaults(func=run_set)

    rm = actions.add_parser("remove", help="remove the limit of a job type or an organization")
    _subject(rm)
    rm.set_defaults(func=run_remove)


def _subject(p: argparse.ArgumentParser) -> None:
    p.add_argument("--type", dest="job_type", metavar="TYPE", help="the job type the limit is for")
    p.add_argument("--organization", "--org", dest="org", metavar="ORG", help="the organization it is for")
    add_common(p)


def scope_of(args: argparse.Namespace) -> tuple[str, str]:
    if (args.job_type is None) == (args.org is None):
        raise CliError("give --type TYPE or --organization ORG (one of them)")
    if args.job_type is not None:
        return "type", args.job_type
    return "organization", args.org


def number(text: str | None, flag: str, kind: type[int] | type[float]) -> Any:
    if text is None:
        return None
    try:
        value = kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise CliError(f"{flag} must be {what}, not {text!r}") from None
    if not value > 0 or value > 100_000:  # also refuses nan
        raise CliError(f"{flag} must be above 0 and at most 100000, not {text}")
    return value


def describe(limit: dict[str, Any]) -> str:
    parts = []
    if limit.get("perSecond") is not None:
        parts.append(f"at most {limit['perSecond']:g} jobs/s")
    if limit.get("maxConcurrent") is not None:
        parts.append(f"{limit['maxConcurrent']} at once")
    return ", ".join(parts)


def run_set(args: argparse.Namespace) -> int:
    scope, key = scope_of(args)
    per_second = number(args.per_second, "--per-second", float)
    max_concurrent = number(args.max_concurrent, "--max-concurrent", int)
    if per_second is None and max_concurrent is None:
        raise CliError("give --per-second N, --max-concurrent N or both")
    settings = settings_from(args)
    registry = registry_from(settings)
    if scope == "type":
        _known_type(registry, key)
    from jobdesk.service.flow import validate_rate_limit

    validate_rate_limit(scope, key, per_second, max_concurrent)

    async def put(flow: Any) -> int:
        limit = await flow.set_rate_limit(scope, key, per_second=per_second, max_concurrent=max_concurrent)
        print(f"{scope} {key}: {describe(limit)}")
        return 0

    return asyncio.run(_with_flow(settings, registry, put))


def run_remove(args: argparse.Namespace) -> int:
    scope, key = scope_of(args)
    settings = settings_from(args)
    registry = registry_from(settings)

    async def remove(flow: Any) -> int:
        await flow.remove_rate_limit(scope, key)
        print(f"removed the limit of {scope} {key}")
        return 0

    return asyncio.run(_with_flow(settings, registry, remove))


def run_list(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    registry = registry_from(settings)

    async def show(flow: Any) -> int:
        limits = await flow.rate_limits()
        if args.json:
            print(json.dumps(limits, indent=2))
            return 0
        if not limits:
            print("no rate limits")
            return 0
        rows = [("SCOPE", "KEY", "PER SECOND", "MAX CONCURRENT")]
        for limit in limits:
            per_second = limit["perSecond"]
            rows.append(
                (
                    limit["scope"],
                    limit["key"],
                    f"{per_second:g}" if per_second is not None else "-",
                    str(limit["maxConcurrent"] or "-"),
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for r in rows:
            print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())
        return 0

    return asyncio.run(_with_flow(settings, registry, show))


def _known_type(registry: Registry, job_type: str) -> None:
    try:
        registry.get(job_type)
    except UnknownJobType as exc:
        raise CliError(f"--type: {exc.message} (are its modules given with --jobs-module?)") from None


async def _with_flow(settings: Settings, registry: Registry, fn: Any) -> int:
    from jobdesk.service.flow import FlowService
    from jobdesk.service.jobs import JobsService

    def flow(store: Any) -> FlowService:
        return FlowService(JobsService(store, registry, settings), settings)

    return await with_store(settings, lambda store: fn(flow(store)))
