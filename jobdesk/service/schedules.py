"""Cron schedules kept in PostgreSQL: the service behind REST, CLI and console.

A schedule is a cron expression, a time zone and the job each tick creates.
Everything is checked when the schedule is added (the expression with
croniter, the job against the registry, exactly as a create would be), so a
bad schedule is an InvalidInput naming the field, never a silent no-op at
3 a.m. The Scheduler (service/scheduler.py) fires the ticks.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from jobdesk.config import Settings
from jobdesk.core.errors import Conflict, InvalidInput, InvalidJobData, NotFound, UnknownJobType
from jobdesk.core.prepare import Defaults, NewJob, prepare
from jobdesk.core.registry import Registry
from jobdesk.core.spec import JobSpec
from jobdesk.service.cron import Cron
from jobdesk.service.extras_sql import fetch
from jobdesk.store.jobs import JobStore, as_uuid

NAME_MAX = 100
# The job fields a schedule may set. runAt, dependsOn and idempotencyKey belong
# to one job, not to every tick's: the scheduler sets runAt and the key itself.
JOB_FIELDS = {"type", "name", "description", "data", "priority", "maxAttempts", "max_attempts", "notify"}


class ScheduleNotFound(NotFound):
    code = "schedule_not_found"


class ScheduleExists(Conflict):
    code = "schedule_exists"


class ScheduleSpec(BaseModel):
    """The add request: `{name, cron, timezone?, job, missedPolicy?, enabled?}`."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    name: str = Field(min_length=1, max_length=NAME_MAX, pattern=r"^\S(.*\S)?$")
    cron: str = Field(min_length=1, max_length=200)
    timezone: str = Field(default="UTC", min_length=1, max_length=64)
    job: dict[str, Any]
    missed_policy: Literal["coalesce", "skip", "all"] = Field(default="coalesce", alias="missedPolicy")
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class Schedule:
    id: str
    name: str
    cron: str
    timezone: str
    job: dict[str, Any]
    user_id: str
    organization_id: str
    enabled: bool
    missed_policy: str
    next_run_at: datetime
    created_at: datetime
    updated_at: datetime
    last_run_at: datetime | None = None
    last_job_id: str | None = None
    last_error: str | None = None

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "cron": self.cron,
            "timezone": self.timezone,
            "job": self.job,
            "missedPolicy": self.missed_policy,
            "enabled": self.enabled,
            "nextRunAt": self.next_run_at.isoformat() if self.enabled else None,
            "lastRunAt": self.last_run_at.isoformat() if self.last_run_at else None,
            "lastJobId": self.last_job_id,
            "lastError": self.last_error,
            "userId": self.user_id,
            "organizationId": self.organization_id,
            "createdAt": self.created_at.isoformat(),
            "updatedAt": self.updated_at.isoformat(),
        }


def row_to_schedule(row: dict[str, Any]) -> Schedule:
    return Schedule(
        id=str(row["id"]),
        name=row["name"],
        cron=row["cron"],
        timezone=row["timezone"],
        job=row["job"],
        user_id=row["user_id"],
        organization_id=row["organization_id"],
        enabled=row["enabled"],
        missed_policy=row["missed_policy"],
        next_run_at=row["next_run_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        last_run_at=row["last_run_at"],
        last_job_id=str(row["last_job_id"]) if row["last_job_id"] else None,
        last_error=row["last_error"],
    )


@dataclass(frozen=True, slots=True)
class NewSchedule:
    spec: ScheduleSpec
    cron: Cron
    job: dict[str, Any]  # normalized: what each tick passes to prepare()


def validate_schedule(
    raw: ScheduleSpec | dict[str, Any],
    user_id: str,
    organization_id: str,
    registry: Registry,
    defaults: Defaults = Defaults(),
) -> NewSchedule:
    """Check a schedule without touching the database; raises InvalidInput naming the field."""
    if not user_id or not organization_id:
        raise InvalidInput("a schedule needs a user id and an organization id")
    spec = _parse(raw)
    cron = Cron(spec.cron, spec.timezone)
    extra = sorted(set(spec.job) - JOB_FIELDS)
    if extra:
        raise InvalidInput(
            f"job.{extra[0]} cannot be set on a schedule (allowed: type, name, description, data, "
            "priority, maxAttempts, notify)"
        )
    job_spec = parse_job(spec.job)
    new = job_for_tick(job_spec, user_id, organization_id, registry, defaults)
    job = job_spec.model_dump(
        mode="json",
        by_alias=True,
        exclude_none=True,
        include={"type", "name", "description", "priority", "max_attempts", "notify"},
    )
    job["data"] = new.data
    if not job.get("notify"):
        job.pop("notify", None)
    return NewSchedule(spec, cron, job)


def parse_job(job: dict[str, Any], **overrides: Any) -> JobSpec:
    """A schedule's job as a JobSpec; errors name `job.<field>`."""
    try:
        return JobSpec.model_validate({**job, **overrides})
    except ValidationError as exc:
        raise InvalidInput(_describe(exc, "job.")) from None


def job_for_tick(
    spec: JobSpec, user_id: str, organization_id: str, registry: Registry, defaults: Defaults
) -> NewJob:
    """The job a tick creates, checked against the registry as a create would be."""
    try:
        return prepare(spec, user_id, organization_id, registry, defaults)
    except UnknownJobType as exc:
        raise InvalidInput(f"job.type: {exc.message}") from None
    except InvalidJobData as exc:
        raise InvalidInput(f"job.data: {exc.message}") from None


def _describe(exc: ValidationError, prefix: str = "") -> str:
    return "; ".join(f"{prefix}{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())


def _parse(raw: ScheduleSpec | dict[str, Any]) -> ScheduleSpec:
    if isinstance(raw, ScheduleSpec):
        return raw
    if not isinstance(raw, dict):
        raise InvalidInput("a schedule must be a JSON object")
    try:
        return ScheduleSpec.model_validate(raw)
    except ValidationError as exc:
        raise InvalidInput(f"invalid schedule: {_describe(exc)}") from None


class SchedulesService:
    """add / list / get / remove / enable. `ref` is a schedule's id or its name.

    `organization_id=None` means every organization (an admin); otherwise only
    that organization's schedules are visible, and others' are "not found".
    """

    def __init__(self, store: JobStore, registry: Registry, settings: Settings) -> None:
        self.store = store
        self.registry = registry
        self.defaults = Defaults(settings.backoff_base_s, settings.backoff_cap_s)

    def validate(
        self, user_id: str, organization_id: str, spec: ScheduleSpec | dict[str, Any]
    ) -> NewSchedule:
        return validate_schedule(spec, user_id, organization_id, self.registry, self.defaults)

    async def add_schedule(
        self, user_id: str, organization_id: str, spec: ScheduleSpec | dict[str, Any]
    ) -> Schedule:
        new = self.validate(user_id, organization_id, spec)
        params = {
            "name": new.spec.name,
            "cron": new.cron.expr,
            "timezone": new.spec.timezone,
            "job": Jsonb(new.job),
            "user_id": user_id,
            "organization_id": organization_id,
            "enabled": new.spec.enabled,
            "missed_policy": new.spec.missed_policy,
            "next_run_at": new.cron.next_after(datetime.now(new.cron.tz)),
        }
        try:
            rows = await fetch(self.store.pool, "insert_schedule", params)
        except psycopg.errors.UniqueViolation:
            raise ScheduleExists(
                f"a schedule named {new.spec.name!r} already exists in organization {organization_id!r}"
            ) from None
        return row_to_schedule(rows[0])

    async def list_schedules(self, organization_id: str | None = None) -> list[Schedule]:
        rows = await fetch(self.store.pool, "list_schedules", {"org": organization_id})
        return [row_to_schedule(r) for r in rows]

    async def get_schedule(self, ref: str, organization_id: str | None = None) -> Schedule:
        sid = as_uuid(ref)
        rows = await fetch(
            self.store.pool, "find_schedules", {"id": sid, "name": ref, "org": organization_id}
        )
        if not rows:
            raise ScheduleNotFound(f"schedule {ref} not found")
        if len(rows) > 1:
            orgs = ", ".join(r["organization_id"] for r in rows)
            raise InvalidInput(f"several organizations have a schedule named {ref!r} ({orgs}); give its id")
        return row_to_schedule(rows[0])

    async def remove_schedule(self, ref: str, organization_id: str | None = None) -> Schedule:
        found = await self.get_schedule(ref, organization_id)
        rows = await fetch(self.store.pool, "delete_schedule", {"id": uuid.UUID(found.id)})
        if not rows:
            raise ScheduleNotFound(f"schedule {ref} not found")
        return row_to_schedule(rows[0])

    async def set_schedule_enabled(
        self, ref: str, enabled: bool, organization_id: str | None = None
    ) -> Schedule:
        found = await self.get_schedule(ref, organization_id)
        cron = Cron(found.cron, found.timezone)
        next_run_at = cron.next_after(datetime.now(cron.tz))
        rows = await fetch(
            self.store.pool,
            "set_schedule_enabled",
            {"id": uuid.UUID(found.id), "enabled": enabled, "next_run_at": next_run_at},
        )
        if not rows:
            raise ScheduleNotFound(f"schedule {ref} not found")
        return row_to_schedule(rows[0])
