"""`jobdesk notify list|add|remove`: notification rules per job type, straight in PostgreSQL.

A rule announces the end of every job of a type in an organization; a
running server's notifier sends them (any server: they share the outbox).
These commands need PostgreSQL only, not Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from jobdesk.cli.common import CliError, add_common, registry_from, settings_from, with_store
from jobdesk.config import Settings
from jobdesk.core.notify import CHANNELS, EVENTS
from jobdesk.core.registry import Registry


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("notify", help="list, add or remove notification rules per job type")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    add = actions.add_parser("add", help="announce the end of every job of a type")
    add.add_argument("type", help="the job type")
    # Checked by the rule's own validation (one line naming the field), not by argparse.
    add.add_argument("--channel", required=True, help=f"one of {', '.join(CHANNELS)}")
    add.add_argument("--target", required=True, help="an email address, or the Slack, Discord or webhook URL")
    add.add_argument(
        "--events",
        default=",".join(EVENTS),
        help="which endings, comma-separated: completed, failed (default: both)",
    )
    add.add_argument("--disabled", action="store_true", help="add it switched off")
    add.add_argument("--org", default="default", help="organization id (default: default)")
    add_common(add)
    add.set_defaults(func=run_add)

    ls = actions.add_parser("list", help="show the rules")
    ls.add_argument("--org", default=None, help="only this organization's (default: all)")
    ls.add_argument("--type", dest="job_type", default=None, help="only this job type's")
    ls.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_common(ls)
    ls.set_defaults(func=run_list)

    rm = actions.add_parser("remove", help="remove a rule")
    rm.add_argument("id", help="the rule's id, as `jobdesk notify list` shows it (a unique prefix will do)")
    rm.add_argument("--org", default=None, help="only among this organization's rules")
    add_common(rm)
    rm.set_defaults(func=run_remove)


def run_add(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    registry = registry_from(settings)
    spec = {
        "jobType": args.type,
        "channel": args.channel,
        "target": args.target,
        "events": [e.strip() for e in args.events.split(",") if e.strip()],
        "enabled": not args.disabled,
    }
    from jobdesk.service.notifications import parse_rule

    # Checked before connecting, so a typo never waits on a database to be reported.
    parse_rule(spec, registry)

    async def add(service: Any) -> int:
        rule = await service.add_rule(args.org, spec)
        print(f"{rule.id}  {describe(rule.to_api())}")
        return 0

    return asyncio.run(_with_service(settings, registry, add))


def run_list(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    registry = registry_from(settings)

    async def show(service: Any) -> int:
        rules = [r.to_api() for r in await service.list_rules(args.org, args.job_type)]
        if args.json:
            print(json.dumps(rules, indent=2))
            return 0
        if not rules:
            print("no notification rules")
            return 0
        rows = [("ID", "ORG", "TYPE", "EVENTS", "CHANNEL", "TARGET", "STATE")]
        for r in rules:
            rows.append(
                (
                    r["id"][:8],
                    r["organizationId"],
                    r["jobType"],
                    ",".join(r["events"]),
                    r["channel"],
                    r["target"],
                    "enabled" if r["enabled"] else "disabled",
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        return 0

    return asyncio.run(_with_service(settings, registry, show))


def run_remove(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    registry = registry_from(settings)
    ref = args.id.strip().lower()
    if not ref:
        raise CliError("give the rule's id (see `jobdesk notify list`)")

    async def remove(service: Any) -> int:
        matching = [r for r in await service.list_rules(args.org) if r.id.startswith(ref)]
        if not matching:
            raise CliError(f"no notification rule with id {args.id!r}; see `jobdesk notify list`")
        if len(matching) > 1:
            raise CliError(f"{args.id!r} is the start of {len(matching)} rules' ids; give more of it")
        rule = await service.remove_rule(matching[0].id, args.org)
        print(f"removed {rule.id}  {describe(rule.to_api())}")
        return 0

    return asyncio.run(_with_service(settings, registry, remove))


def describe(rule: dict[str, Any]) -> str:
    events = " or ".join(rule["events"])
    state = "" if rule["enabled"] else " (disabled)"
    return (
        f"{rule['jobType']} jobs {events} in {rule['organizationId']} → "
        f"{rule['channel']} {rule['target']}{state}"
    )


async def _with_service(settings: Settings, registry: Registry, fn: Any) -> int:
    from jobdesk.service.notifications import NotificationsService

    return await with_store(settings, lambda store: fn(NotificationsService(store, registry)))
