"""Notifications when a job completes or fails: per-type rules, and the outbox they fill.

Two sources say who hears about a job's end: the job's own `notify` list
(set at creation) and the rules of its organization for its type. When a job
completes or fails, every server's Notifier hears the event and inserts one
outbox row per (job end, channel, target, event); the unique key lets one
insert win, so nothing is announced twice however many servers run. The
delivery loop then claims due rows with SKIP LOCKED and sends them (see
service/notifier.py). None of it runs in a worker or inside a job's transaction:
a slow SMTP server or a dead webhook never holds a job up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from pydantic import ConfigDict, Field, ValidationError

from jobdesk.core.errors import Conflict, InvalidInput, NotFound, UnknownJobType
from jobdesk.core.notify import NotifyTarget
from jobdesk.core.registry import Registry
from jobdesk.service.extras_sql import fetch
from jobdesk.store.jobs import JobStore, as_uuid


class RuleNotFound(NotFound):
    code = "notification_rule_not_found"


class RuleExists(Conflict):
    code = "notification_rule_exists"


class RuleSpec(NotifyTarget):
    """The add request: `{jobType, channel, target, events?, enabled?}`."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    job_type: str = Field(alias="jobType", min_length=1, max_length=100)
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    organization_id: str
    job_type: str
    channel: str
    target: str
    events: list[str]
    enabled: bool
    created_at: datetime

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "organizationId": self.organization_id,
            "jobType": self.job_type,
            "channel": self.channel,
            "target": self.target,
            "events": list(self.events),
            "enabled": self.enabled,
            "createdAt": self.created_at.isoformat(),
        }


def row_to_rule(row: dict[str, Any]) -> Rule:
    return Rule(
        id=str(row["id"]),
        organization_id=row["organization_id"],
        job_type=row["job_type"],
        channel=row["channel"],
        target=row["target"],
        events=list(row["events"]),
        enabled=row["enabled"],
        created_at=row["created_at"],
    )


def delivery_to_api(row: dict[str, Any]) -> dict[str, Any]:
    """One notification of a job, as the console and REST show it."""
    return {
        "id": row["id"],
        "channel": row["channel"],
        "target": row["target"],
        "event": row["event"],
        "status": row["status"],
        "attempts": row["attempts"],
        "lastError": row["last_error"],
        "ruleId": str(row["rule_id"]) if row["rule_id"] else None,
        "createdAt": row["created_at"].isoformat(),
        "sentAt": row["sent_at"].isoformat() if row["sent_at"] else None,
        "nextAttemptAt": row["next_attempt_at"].isoformat() if row["status"] == "pending" else None,
    }


def parse_rule(raw: RuleSpec | dict[str, Any], registry: Registry) -> RuleSpec:
    if isinstance(raw, RuleSpec):
        spec = raw
    elif not isinstance(raw, dict):
        raise InvalidInput("a notification rule must be a JSON object")
    else:
        try:
            spec = RuleSpec.model_validate(raw)
        except ValidationError as exc:
            where = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'target'}: {e['msg']}" for e in exc.errors()
            )
            raise InvalidInput(f"invalid notification rule: {where}") from None
    try:
        registry.get(spec.job_type)
    except UnknownJobType as exc:
        raise InvalidInput(f"jobType: {exc.message}") from None
    return spec


class NotificationsService:
    """Rules per organization and job type, and what was sent for a job.

    `organization_id=None` means every organization (an admin).
    """

    def __init__(self, store: JobStore, registry: Registry) -> None:
        self.store = store
        self.registry = registry

    async def add_rule(self, organization_id: str, spec: RuleSpec | dict[str, Any]) -> Rule:
        if not organization_id:
            raise InvalidInput("a notification rule needs an organization id")
        rule = parse_rule(spec, self.registry)
        params = {
            "org": organization_id,
            "job_type": rule.job_type,
            "channel": rule.channel,
            "target": rule.target,
            "events": list(rule.events),
            "enabled": rule.enabled,
        }
        try:
            rows = await fetch(self.store.pool, "insert_rule", params)
        except psycopg.errors.UniqueViolation:
            raise RuleExists(
                f"{rule.job_type} jobs already notify {rule.target} by {rule.channel} in {organization_id!r}"
            ) from None
        return row_to_rule(rows[0])

    async def list_rules(self, organization_id: str | None = None, job_type: str | None = None) -> list[Rule]:
        rows = await fetch(self.store.pool, "list_rules", {"org": organization_id, "job_type": job_type})
        return [row_to_rule(r) for r in rows]

    async def remove_rule(self, rule_id: str, organization_id: str | None = None) -> Rule:
        rid = as_uuid(rule_id)
        rows = (
            []
            if rid is None
            else await fetch(self.store.pool, "delete_rule", {"id": rid, "org": organization_id})
        )
        if not rows:
            raise RuleNotFound(f"notification rule {rule_id} not found")
        return row_to_rule(rows[0])

    async def job_notifications(
        self, job_id: str, organization_id: str | None = None
    ) -> list[dict[str, Any]]:
        """The notifications of one job (none for an unknown job or another organization's)."""
        jid = as_uuid(job_id)
        if jid is None:
            return []
        rows = await fetch(self.store.pool, "job_notifications", {"id": jid, "org": organization_id})
        return [delivery_to_api(r) for r in rows]
