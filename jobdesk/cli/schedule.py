"""`jobdesk schedule add|list|remove|enable|disable`: cron schedules, straight in PostgreSQL.

A running server's scheduler fires them (any server: they share the table);
these commands need PostgreSQL only, not Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
from typing import Any

from jobdesk.cli.common import add_common, registry_from, settings_from, with_store
from jobdesk.cli.submit import read_data
from jobdesk.config import Settings
from jobdesk.core.registry import Registry


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("schedule", help="add, list or remove cron schedules")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    add = actions.add_parser("add", help="create a job on a cron schedule")
    add.add_argument("name", help="the schedule's name (unique in its organization)")
    add.add_argument("type", help="the job type each tick creates")
    add.add_argument("--cron", required=True, help='when: 5 fields ("*/5 * * * *") or 6 with seconds first')
    add.add_argument("--data", default="{}", help="the job's data: a JSON object, or @file holding one")
    add.add_argument("--job-name", help="the jobs' name (default: the type)")
    add.add_argument("--priority", type=int, default=0, help="higher runs first (-1000..1000)")
    add.add_argument("--max-attempts", type=int)
    add.add_argument(
        "--timezone", default="UTC", help="the cron's time zone (default: UTC), e.g. Europe/Paris"
    )
    add.add_argument(
        "--missed",
        default="coalesce",
        choices=("coalesce", "skip", "all"),
        help="ticks missed while no server ran: one run for all (coalesce), none (skip), each (all, max 100)",
    )
    add.add_argument("--disabled", action="store_true", help="add it switched off")
    _owner(add, user=True)
    add.set_defaults(func=run_add)

    ls = actions.add_parser("list", help="show the schedules")
    ls.add_argument("--org", default=None, help="only this organization's (default: all)")
    ls.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_common(ls)
    ls.set_defaults(func=run_list)

    for action, help_text in (
        ("remove", "delete a schedule"),
        ("enable", "switch a schedule on (from its next tick)"),
        ("disable", "switch a schedule off"),
    ):
        one = actions.add_parser(action, help=help_text)
        one.add_argument("ref", metavar="NAME_OR_ID")
        _owner(one, user=False)
        one.set_defaults(func=run_one, action=action)


def _owner(p: argparse.ArgumentParser, *, user: bool) -> None:
    if user:
        p.add_argument("--user", default=None, help="owner user id (default: your login)")
    p.add_argument("--org", default="default", help="organization id (default: default)")
    add_common(p)


def run_add(args: argparse.Namespace) -> int:
    data = read_data(args.data)
    settings = settings_from(args)
    registry = registry_from(settings)
    job: dict[str, Any] = {"type": args.type, "data": data, "priority": args.priority}
    if args.job_name is not None:
        job["name"] = args.job_name
    if args.max_attempts is not None:
        job["maxAttempts"] = args.max_attempts
    spec = {
        "name": args.name,
        "cron": args.cron,
        "timezone": args.timezone,
        "job": job,
        "missedPolicy": args.missed,
        "enabled": not args.disabled,
    }
    user = args.user or getpass.getuser()
    from jobdesk.service.schedules import validate_schedule

    # Checked before connecting, so a typo never waits on a database to be reported.
    validate_schedule(spec, user, args.org, registry)

    async def add(service: Any) -> int:
        s = await service.add_schedule(user, args.org, spec)
        next_run = s.next_run_at.isoformat() if s.enabled else "disabled"
        print(f"{s.id}  {s.name}  next run: {next_run}")
        return 0

    return asyncio.run(_with_service(settings, registry, add))


def run_list(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    registry = registry_from(settings)

    async def show(service: Any) -> int:
        schedules = await service.list_schedules(args.org)
        if args.json:
            print(json.dumps([s.to_api() for s in schedules], indent=2))
            return 0
        if not schedules:
            print("no schedules")
            return 0
        rows = [("NAME", "ORG", "CRON", "TIMEZONE", "TYPE", "MISSED", "NEXT RUN", "LAST RUN", "LAST ERROR")]
        for s in schedules:
            rows.append(
                (
                    s.name,
                    s.organization_id,
                    s.cron,
                    s.timezone,
                    s.job["type"],
                    s.missed_policy,
                    _when(s.next_run_at) if s.enabled else "disabled",
                    _when(s.last_run_at),
                    (s.last_error or "")[:60],
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for r in rows:
            print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())
        return 0

    return asyncio.run(_with_service(settings, registry, show))


def run_one(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    registry = registry_from(settings)

    async def act(service: Any) -> int:
        if args.action == "remove":
            s = await service.remove_schedule(args.ref, args.org)
            print(f"removed {s.name} ({s.id})")
        else:
            s = await service.set_schedule_enabled(args.ref, args.action == "enable", args.org)
            state = f"enabled, next run {_when(s.next_run_at)}" if s.enabled else "disabled"
            print(f"{s.name}: {state}")
        return 0

    return asyncio.run(_with_service(settings, registry, act))


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S %Z") if value else "-"


async def _with_service(settings: Settings, registry: Registry, fn: Any) -> int:
    from jobdesk.service.schedules import SchedulesService

    return await with_store(settings, lambda store: fn(SchedulesService(store, registry, settings)))
