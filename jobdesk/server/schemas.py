"""Shapes of the REST answers, for the OpenAPI document.

Routes return the core objects' own `to_api()` dicts directly (FastAPI skips
response_model validation for a returned Response); these models describe
those dicts, and the schemathesis test checks that they do.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from jobdesk.core.spec import JobSpec
from jobdesk.service.jobs import BATCH_MAX

JobStatusName = Literal["pending", "active", "completed", "failed", "cancelled"]


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorDetail(_Out):
    code: str
    message: str


class ErrorOut(BaseModel):
    error: ErrorDetail


class ProgressOut(_Out):
    current: int
    total: int
    percentage: float
    message: str | None


class JobOut(_Out):
    id: str
    type: str
    name: str
    description: str | None
    queue: str
    status: JobStatusName
    priority: int
    data: dict[str, Any]
    progress: ProgressOut
    result: Any
    error: dict[str, Any] | None
    attempts: int
    maxAttempts: int
    userId: str
    organizationId: str
    createdAt: str
    updatedAt: str
    startedAt: str | None
    completedAt: str | None
    runAt: str | None
    cancelRequested: bool
    workerId: str | None
    parentId: str | None
    batchId: str | None
    dependsOn: list[str]
    dependencyPolicy: str | None = None
    notify: list[dict[str, Any]] | None = None
    attemptLog: list[dict[str, Any]]


class PageOut(_Out):
    items: list[JobOut]
    total: int
    limit: int
    offset: int
    nextCursor: str | None = Field(
        None, description="pass as `cursor` for the next page in the same order; null when none follows"
    )


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    jobs: list[JobSpec] = Field(min_length=1, max_length=BATCH_MAX)


class BatchOut(_Out):
    batchId: str | None = Field(description="the new batch; null when every spec named an existing job")
    count: int = Field(description="the number of items: one per spec")
    created: int = Field(description="how many of them this request stored")
    items: list[JobOut]


class StatsOut(_Out):
    total: int
    byStatus: dict[str, int]
    byType: dict[str, dict[str, int]]
    successRate: float
    failureRate: float
    averageDurationSeconds: float | None
    p95DurationSeconds: float | None


class ThroughputOut(_Out):
    minute: str
    completed: int
    failed: int


class QueueOut(_Out):
    name: str
    paused: bool
    pending: int
    active: int
    failed: int


class QueueStateOut(_Out):
    name: str
    paused: bool


class WorkerOut(_Out):
    id: str
    host: str
    pid: int
    queues: list[str]
    threads: int
    currentJobs: list[str]
    processed: int
    failed: int
    startedAt: str
    lastHeartbeat: str


class JobTypeOut(_Out):
    type: str
    queue: str
    maxAttempts: int
    description: str
    schema_: dict[str, Any] = Field(alias="schema")


class MeOut(_Out):
    tokenId: str
    name: str
    userId: str
    organizationId: str
    isAdmin: bool


class DependencyOut(_Out):
    ok: bool
    latencyMs: float | None = None
    error: str | None = None


class WorkersHealthOut(_Out):
    live: int | None
    threads: int | None = None


class HealthOut(_Out):
    status: Literal["ok", "degraded"]
    version: str
    postgres: DependencyOut
    redis: DependencyOut
    workers: WorkersHealthOut


class BatchSummaryOut(_Out):
    id: str
    total: int
    userId: str
    organizationId: str
    byStatus: dict[str, int]
    percentage: float
    createdAt: str
    completedAt: str | None


class BatchPageOut(_Out):
    items: list[BatchSummaryOut]
    total: int
    limit: int
    offset: int


class DeadLettersIn(BaseModel):
    """Which failed jobs: the given `ids`, or (without them) all of the caller's, of `type` if given."""

    model_config = ConfigDict(extra="forbid")

    ids: list[Annotated[str, Field(max_length=100)]] | None = Field(
        default=None, min_length=1, max_length=BATCH_MAX
    )
    type: str | None = Field(default=None, min_length=1, max_length=100)


class RequeuedOut(_Out):
    requeued: int


class PurgedOut(_Out):
    purged: int


RateLimitScope = Literal["type", "organization"]


class RateLimitIn(BaseModel):
    """At least one of the two; a value left out means no limit of that kind."""

    model_config = ConfigDict(extra="forbid")

    perSecond: float | None = Field(default=None, gt=0, le=100_000, description="dispatches per second")
    maxConcurrent: int | None = Field(default=None, ge=1, le=100_000, description="jobs in flight at once")


class RateLimitOut(_Out):
    scope: RateLimitScope
    key: str
    perSecond: float | None
    maxConcurrent: int | None


class ReasonOut(_Out):
    kind: str
    message: str


class WhyOut(_Out):
    jobId: str
    status: JobStatusName
    waiting: bool
    reasons: list[ReasonOut]


class ScheduleOut(_Out):
    id: str
    name: str
    cron: str
    timezone: str
    job: dict[str, Any]
    missedPolicy: str
    enabled: bool
    nextRunAt: str | None
    lastRunAt: str | None
    lastJobId: str | None
    lastError: str | None
    userId: str
    organizationId: str
    createdAt: str
    updatedAt: str


class ScheduleStateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool


class RuleOut(_Out):
    id: str
    organizationId: str
    jobType: str
    channel: str
    target: str
    events: list[str]
    enabled: bool
    createdAt: str


class NotificationOut(_Out):
    id: int
    channel: str
    target: str
    event: str
    status: str
    attempts: int
    lastError: str | None
    ruleId: str | None
    createdAt: str
    sentAt: str | None
    nextAttemptAt: str | None


# The error answers each kind of route can give, for the OpenAPI document.
AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "missing, invalid or revoked token"},
    422: {"model": ErrorOut, "description": "invalid parameters"},
    429: {"model": ErrorOut, "description": "too many failed authentications from this address"},
    503: {"model": ErrorOut, "description": "PostgreSQL unavailable"},
}
BODY_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "the body is not valid JSON"},
    413: {"model": ErrorOut, "description": "the body is larger than 1 MiB"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "no such job (or another organization's)"}
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorOut, "description": "the job's status does not allow this"}
}
FORBIDDEN: dict[int | str, dict[str, Any]] = {403: {"model": ErrorOut, "description": "needs an admin token"}}
SCHEDULE_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "no such schedule (or another organization's)"}
}
