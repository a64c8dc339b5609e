"""The abstract client: every call the console makes, and the values it speaks in.

Jobs travel as `jobdesk.core.jobs.Job`, events as `JobEvent`, failures as the
`JobdeskError` tree, whatever sits behind the client (the engine in this
process, or a server elsewhere). Queue, worker and stats records are the
contract's camelCase dicts.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from jobdesk.core.errors import JobdeskError, ServiceUnavailable
from jobdesk.core.events import JobEvent
from jobdesk.core.jobs import Job

EventCallback = Callable[[list[JobEvent]], None]
# Called with a batch's id once every job of it has finished.
BatchCallback = Callable[[str], None]

# Bulk actions run this many requests at once: enough to hide round trips,
# few enough not to take every pooled connection from the dispatcher.
BULK_CONCURRENCY = 4


@dataclass(frozen=True, slots=True)
class JobQuery:
    """Filters and order of a job list; None means any."""

    type: str | None = None
    status: str | None = None
    queue: str | None = None
    search: str | None = None
    order: str = "created"
    descending: bool = True
    # The jobs of one batch (`POST /api/jobs/batch`'s batchId).
    batch_id: str | None = None


@dataclass(frozen=True, slots=True)
class JobPage:
    items: list[Job]
    total: int
    limit: int
    offset: int
    # Pass as `cursor` for the page after this one (same query); None when none follows.
    next_cursor: str | None = None


@dataclass(frozen=True, slots=True)
class BatchPage:
    """Batch summaries ({id, total, byStatus, percentage, createdAt, completedAt, ...})."""

    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True, slots=True)
class JobType:
    """A registered job type as the create dialog shows it."""

    type: str
    queue: str
    max_attempts: int = 3
    description: str = ""
    # A JSON Schema of the type's data, when it declares one.
    schema: dict[str, Any] | None = None
    # A data object to start editing from.
    example: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class BulkResult:
    """What a bulk action did: the jobs changed and, per id, why the others were not."""

    done: list[Job] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ConnectOptions:
    """Where the console's jobs live and what it hosts itself."""

    database_url: str
    redis_url: str
    api_port: int = 3000
    ws_port: int = 3001
    workers: int = 2
    threads: int = 8


class LocalWorkerControl(Protocol):
    """The worker processes a console started itself (absent when it watches a remote server)."""

    # How many processes start() starts; the console sets it before starting.
    processes: int

    @property
    def running(self) -> bool: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class JobsClient(ABC):
    """Everything the console asks of jobs. All calls run on the event loop; none blocks it.

    Attributes:
        endpoint: a short description of what the client talks to, for the status bar.
        local_workers: the console's own workers, or None when it has none to control.
    """

    endpoint: str = ""
    local_workers: LocalWorkerControl | None = None

    # -- jobs ---------------------------------------------------------------------------

    @abstractmethod
    async def list_jobs(
        self, query: JobQuery, *, limit: int = 100, offset: int = 0, cursor: str | None = None
    ) -> JobPage:
        """A page of jobs: by `offset`, or (fast at any depth) after the `next_cursor` of the page before."""

    @abstractmethod
    async def get_job(self, job_id: str) -> Job: ...

    @abstractmethod
    async def create_job(self, spec: dict[str, Any]) -> Job:
        """Create a job from the contract's create request (`type`, `name`, `data`, `priority`...)."""

    async def validate_job(self, spec: dict[str, Any]) -> None:
        """Raise InvalidInput if `spec` would be refused; by default the server decides at create."""
        return None

    @abstractmethod
    async def cancel_job(self, job_id: str) -> Job: ...

    @abstractmethod
    async def retry_job(self, job_id: str) -> Job: ...

    async def cancel_jobs(self, job_ids: list[str]) -> BulkResult:
        return await self._bulk(self.cancel_job, job_ids)

    async def retry_jobs(self, job_ids: list[str]) -> BulkResult:
        return await self._bulk(self.retry_job, job_ids)

    @abstractmethod
    async def job_types(self) -> list[JobType]: ...

    # -- the whole system ---------------------------------------------------------------

    @abstractmethod
    async def stats(self) -> dict[str, Any]:
        """{total, byStatus, byType, successRate, failureRate, averageDurationSeconds, p95DurationSeconds}."""

    @abstractmethod
    async def throughput(self, minutes: int = 60) -> list[dict[str, Any]]:
        """Jobs finished per minute: [{minute (ISO), completed, failed}], oldest first, gaps omitted."""

    @abstractmethod
    async def queues(self) -> list[dict[str, Any]]:
        """[{name, paused, heldBack, pending, active, failed}]; heldBack: what limit holds it, or None."""

    @abstractmethod
    async def set_queue_paused(self, name: str, paused: bool) -> dict[str, Any]: ...

    @abstractmethod
    async def workers(self) -> list[dict[str, Any]]:
        """[{id, host, pid, queues, threads, currentJobs, processed, failed, startedAt, lastHeartbeat}]."""

    # -- flow control, schedules (the roadmap's features; a client without them says so) -------

    async def why(self, job_id: str) -> dict[str, Any]:
        """Why a job waits: {jobId, status, waiting, reasons: [{kind, message, ...}]}, most decisive first."""
        raise self._lacks("'why is this job waiting?'")

    async def batch(self, batch_id: str) -> dict[str, Any]:
        """{id, total, byStatus, percentage, createdAt, completedAt}."""
        raise self._lacks("batches")

    async def batches(self, *, open_only: bool = False, limit: int = 100, offset: int = 0) -> BatchPage:
        """Batches newest first, each summarized as `batch()` does; `open_only`: not finished yet."""
        raise self._lacks("batches")

    async def dead_letters(self, limit: int = 100, offset: int = 0, *, cursor: str | None = None) -> JobPage:
        """Jobs that failed their last attempt, newest first: by `offset`, or after a page's `next_cursor`."""
        raise self._lacks("dead letters")

    async def requeue_dead(self, ids: list[str] | None = None) -> int:
        """Make the failed jobs among `ids` (None: every failed job) pending again; how many were."""
        raise self._lacks("dead letters")

    async def purge_dead(self, ids: list[str] | None = None) -> int:
        """Delete the failed jobs among `ids` (None: every failed job); how many were."""
        raise self._lacks("dead letters")

    async def schedules(self) -> list[dict[str, Any]]:
        """[{id, name, cron, timezone, enabled, nextRunAt, lastRunAt, lastError, ...}]."""
        raise self._lacks("schedules")

    async def set_schedule_enabled(self, ref: str, enabled: bool) -> dict[str, Any]:
        """Enable or disable a schedule by id or name; the schedule as it is now."""
        raise self._lacks("schedules")

    async def remove_schedule(self, ref: str) -> dict[str, Any]:
        """Remove a schedule by id or name; the schedule as it was."""
        raise self._lacks("schedules")

    async def rate_limits(self) -> list[dict[str, Any]]:
        """[{scope, key, perSecond, maxConcurrent}]: `scope` is `type` or `organization`."""
        raise self._lacks("rate limits")

    async def set_rate_limit(
        self, scope: str, key: str, *, per_second: float | None = None, max_concurrent: int | None = None
    ) -> dict[str, Any]:
        """Create or replace the limit of a job type or an organization; the limit as stored."""
        raise self._lacks("rate limits")

    async def remove_rate_limit(self, scope: str, key: str) -> None:
        raise self._lacks("rate limits")

    async def notification_rules(self, job_type: str | None = None) -> list[dict[str, Any]]:
        """[{id, organizationId, jobType, channel, target, events, enabled, createdAt}]."""
        raise self._lacks("notification rules")

    async def add_notification_rule(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Add `{jobType, channel, target, events?, enabled?}` for the client's organization; the rule."""
        raise self._lacks("notification rules")

    async def remove_notification_rule(self, rule_id: str) -> dict[str, Any]:
        """Remove a rule by id; the rule as it was."""
        raise self._lacks("notification rules")

    def _lacks(self, what: str) -> ServiceUnavailable:
        return ServiceUnavailable(f"{self.endpoint or 'this connection'} does not offer {what}")

    # -- events and lifetime --------------------------------------------------------------

    @abstractmethod
    def subscribe(self, callback: EventCallback) -> Callable[[], None]:
        """Call `callback` on the loop with each batch of job events; returns the unsubscribe function."""

    def on_resync(self, callback: Callable[[], None]) -> None:
        """Call `callback` when events may have been missed (a reconnect): what is shown should be re-read."""
        return None

    def on_batch_completed(self, callback: BatchCallback) -> None:
        """Call `callback` with a batch's id, once, when its last job has finished (never removed)."""
        return None

    @abstractmethod
    async def close(self) -> None:
        """Release connections and stop whatever the client started."""

    async def _bulk(self, action: Callable[[str], Awaitable[Job]], job_ids: list[str]) -> BulkResult:
        result = BulkResult()
        gate = asyncio.Semaphore(BULK_CONCURRENCY)

        async def one(job_id: str) -> None:
            async with gate:
                try:
                    result.done.append(await action(job_id))
                except JobdeskError as exc:
                    result.errors[job_id] = exc.message

        await asyncio.gather(*(one(j) for j in dict.fromkeys(job_ids)))
        return result


class Connector(Protocol):
    """Makes clients: the console asks it again after the operator changes the connection settings."""

    def defaults(self) -> ConnectOptions:
        """The options from the environment, before the operator's saved settings apply."""
        ...

    async def connect(self, options: ConnectOptions) -> JobsClient:
        """A connected client; raises a JobdeskError whose message says what to fix."""
        ...
