"""JobsService: create, read, list, cancel, retry, stats and cleanup.

What the original's JobsService offered, in Python, with every error a
JobdeskError the server maps to a 4xx.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, replace
from typing import Any

import psycopg

from jobdesk.config import Settings
from jobdesk.core.errors import (
    DatabaseUnavailable,
    InvalidInput,
    InvalidTransition,
    JobNotFound,
)
from jobdesk.core.jobs import TERMINAL, Job, JobStatus
from jobdesk.core.prepare import Defaults, NewJob, prepare
from jobdesk.core.registry import Registry
from jobdesk.core.spec import JobSpec
from jobdesk.store.jobs import ORDERS, JobStore, ListFilter, as_uuid
from jobdesk.store.rows import row_to_job
from jobdesk.store.sql import q

LIST_LIMIT_MAX = 500
BATCH_MAX = 10_000
IDEMPOTENCY_WINDOW_S = 24 * 3600


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Job]
    total: int
    limit: int
    offset: int

    def to_api(self) -> dict[str, Any]:
        return {
            "items": [j.to_api() for j in self.items],
            "total": self.total,
            "limit": self.limit,
            "offset": self.offset,
        }


class JobsService:
    def __init__(self, store: JobStore, registry: Registry, settings: Settings) -> None:
        self.store = store
        self.registry = registry
        self.settings = settings
        self.defaults = Defaults(settings.backoff_base_s, settings.backoff_cap_s)

    # -- create ---------------------------------------------------------------------

    def prepare(
        self, user_id: str, organization_id: str, spec: JobSpec | dict[str, Any], **extra: Any
    ) -> NewJob:
        return prepare(spec, user_id, organization_id, self.registry, self.defaults, **extra)

    async def create_job(self, user_id: str, organization_id: str, spec: JobSpec | dict[str, Any]) -> Job:
        new = self.prepare(user_id, organization_id, spec)
        await self._check_dependencies(new)
        if new.idempotency_key is not None:
            return await self._create_idempotent(new)
        try:
            return await self.store.insert(new)
        except psycopg.OperationalError as exc:
            raise DatabaseUnavailable(f"PostgreSQL unavailable: {exc}") from None

    async def _create_idempotent(self, new: NewJob) -> Job:
        """The first job created with this key in the last 24 hours, or a new one.

        The unique index on (organization, key) settles concurrent creates: one
        insert wins, the others read its row. A key older than the window is
        released first, so it can name a new job.
        """
        for _ in range(3):
            existing = await self._by_idempotency_key(new.organization_id, new.idempotency_key)
            if existing is not None:
                if existing.created_at.timestamp() > time.time() - IDEMPOTENCY_WINDOW_S:
                    return existing
                await self.store.execute("release_idempotency_key", {"id": uuid.UUID(existing.id)})
            try:
                return await self.store.insert(new)
            except psycopg.errors.UniqueViolation:
                continue
        raise InvalidTransition(f"idempotency key {new.idempotency_key!r} is contended; try again")

    async def create_jobs(
        self, user_id: str, organization_id: str, specs: list[JobSpec | dict[str, Any]]
    ) -> list[Job]:
        """Many jobs in one transaction: all are stored, or none."""
        if not specs:
            raise InvalidInput("a batch needs at least one job")
        if len(specs) > BATCH_MAX:
            raise InvalidInput(f"a batch holds at most {BATCH_MAX} jobs, not {len(specs)}")
        batch_id = str(uuid.uuid4())
        prepared = []
        for i, spec in enumerate(specs):
            try:
                prepared.append(self.prepare(user_id, organization_id, spec, batch_id=batch_id))
            except InvalidInput as exc:
                exc.message = f"job {i}: {exc.message}"
                exc.args = (exc.message,)
                raise
        for new in prepared:
            await self._check_dependencies(new)
        batch = {
            "id": batch_id,
            "user_id": user_id,
            "organization_id": organization_id,
            "total": len(prepared),
        }
        return await self.store.insert_many(prepared, batch)

    async def _check_dependencies(self, new: NewJob) -> None:
        if not new.depends_on:
            return
        ids = [as_uuid(d) for d in new.depends_on]
        if any(i is None for i in ids):
            raise InvalidInput("dependsOn must hold job ids")
        async with self.store.pool.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT id FROM jobs WHERE id = ANY(%s) AND organization_id = %s",
                    (ids, new.organization_id),
                )
            ).fetchall()
        missing = {str(i) for i in ids} - {str(r["id"]) for r in rows}
        if missing:
            raise InvalidInput(f"dependsOn names unknown jobs: {', '.join(sorted(missing))}")

    async def _by_idempotency_key(self, organization_id: str, key: str | None) -> Job | None:
        if key is None:
            return None
        async with self.store.pool.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT * FROM jobs WHERE organization_id = %s AND idempotency_key = %s",
                    (organization_id, key),
                )
            ).fetchone()
        return row_to_job(row) if row else None

    # -- read -------------------------------------------------------------------------

    async def get_job(self, job_id: str, organization_id: str | None = None) -> Job:
        job = await self.store.get(job_id, organization_id)
        if job is None:
            raise JobNotFound(job_id)
        return job

    async def list_jobs(
        self,
        organization_id: str | None = None,
        *,
        type: str | None = None,
        status: str | None = None,
        queue: str | None = None,
        search: str | None = None,
        parent_id: str | None = None,
        batch_id: str | None = None,
        limit: int = 20,
        offset: int = 0,
        order: str = "created",
        descending: bool = True,
    ) -> Page:
        if status is not None and status not in JobStatus.__members__.values():
            allowed = ", ".join(s.value for s in JobStatus)
            raise InvalidInput(f"status must be one of {allowed}, not {status!r}")
        if not 1 <= limit <= LIST_LIMIT_MAX:
            raise InvalidInput(f"limit must be between 1 and {LIST_LIMIT_MAX}")
        if offset < 0:
            raise InvalidInput("offset must not be negative")
        if order not in ORDERS:
            raise InvalidInput(f"order must be one of {', '.join(ORDERS)}, not {order!r}")
        where = ListFilter(organization_id, type, status, queue, search, parent_id, batch_id, limit, offset)
        items, total = await self.store.list(replace(where, order=order, descending=descending))
        return Page(items, total, limit, offset)

    # -- change -----------------------------------------------------------------------

    async def cancel_job(self, job_id: str, organization_id: str | None = None) -> Job:
        jid = as_uuid(job_id)
        if jid is None:
            raise JobNotFound(job_id)
        params = {"id": jid, "org": organization_id}
        job = await self.store.run_one("cancel_pending", params)
        if job is None:
            job = await self.store.run_one("request_cancel_active", params)
        if job is None:
            current = await self.get_job(job_id, organization_id)
            raise InvalidTransition(f"job {job_id} is already {current.status.value}")
        await self.store.execute("cancel_descendants", {"id": jid})
        return job

    async def retry_job(self, job_id: str, organization_id: str | None = None) -> Job:
        jid = as_uuid(job_id)
        if jid is None:
            raise JobNotFound(job_id)
        job = await self.store.run_one("retry_job", {"id": jid, "org": organization_id})
        if job is None:
            current = await self.get_job(job_id, organization_id)
            raise InvalidTransition(
                f"only failed or cancelled jobs can be retried; job {job_id} is {current.status.value}"
            )
        return job

    async def cleanup(self, older_than_s: float) -> int:
        if older_than_s < 0:
            raise InvalidInput("the age must not be negative")
        async with self.store.pool.connection() as conn:
            cur = await conn.execute(q("cleanup_finished"), {"older_than_s": older_than_s})
            return cur.rowcount

    # -- statistics ---------------------------------------------------------------------

    async def stats(self, organization_id: str | None = None) -> dict[str, Any]:
        counts = await self.store.execute("stats_counts", {"org": organization_id})
        by_status = {s.value: 0 for s in JobStatus}
        by_type: dict[str, dict[str, int]] = {}
        for r in counts:
            by_status[r["status"]] = by_status.get(r["status"], 0) + r["n"]
            t = by_type.setdefault(r["type"], {"total": 0, **{s.value: 0 for s in JobStatus}})
            t[r["status"]] += r["n"]
            t["total"] += r["n"]
        total = sum(by_status.values())
        finished = sum(by_status[s.value] for s in TERMINAL)
        (durations,) = await self.store.execute("stats_durations", {"org": organization_id}) or [{}]
        return {
            "total": total,
            "byStatus": by_status,
            "byType": by_type,
            "successRate": _rate(by_status["completed"], finished),
            "failureRate": _rate(by_status["failed"], finished),
            "averageDurationSeconds": _round(durations.get("avg_s")),
            "p95DurationSeconds": _round(durations.get("p95_s")),
        }

    async def throughput(self, organization_id: str | None = None, minutes: int = 60) -> list[dict[str, Any]]:
        """Jobs finished per minute over the last `minutes`: [{minute, completed, failed}], oldest first."""
        if not 1 <= minutes <= 24 * 60:
            raise InvalidInput("minutes must be between 1 and 1440")
        rows = await self.store.execute("throughput_by_minute", {"org": organization_id, "minutes": minutes})
        out: dict[str, dict[str, Any]] = {}
        for r in rows:
            key = r["minute"].isoformat()
            out.setdefault(key, {"minute": key, "completed": 0, "failed": 0})[r["status"]] = r["n"]
        return list(out.values())

    # -- queues and workers ------------------------------------------------------------------

    async def queues(self, organization_id: str | None = None) -> list[dict[str, Any]]:
        counts = await self.store.execute("queue_counts", {"org": organization_id})
        known = {r["name"]: r for r in await self.store.execute("list_queues", {})}
        names = set(self.registry.queues()) | set(known) | {r["queue"] for r in counts}
        out = {
            n: {
                "name": n,
                "paused": bool(known.get(n, {}).get("paused")),
                "heldBack": known[n]["held_reason"] if n in known and known[n]["held"] else None,
                "pending": 0,
                "active": 0,
                "failed": 0,
            }
            for n in names
        }
        for r in counts:
            out[r["queue"]][r["status"]] = r["n"]
        return [out[n] for n in sorted(out)]

    async def set_queue_paused(self, name: str, paused: bool) -> dict[str, Any]:
        if not name or len(name) > 100:
            raise InvalidInput("a queue name is 1 to 100 characters")
        rows = await self.store.execute("set_queue_paused", {"name": name, "paused": paused})
        return {"name": rows[0]["name"], "paused": rows[0]["paused"]}

    async def workers(self) -> list[dict[str, Any]]:
        rows = await self.store.execute("live_workers", {"dead_after": self.settings.worker_dead_after_s})
        return [
            {
                "id": r["id"],
                "host": r["host"],
                "pid": r["pid"],
                "queues": list(r["queues"]),
                "threads": r["threads"],
                "currentJobs": [str(j) for j in r["current_jobs"]],
                "processed": r["processed"],
                "failed": r["failed"],
                "startedAt": r["started_at"].isoformat(),
                "lastHeartbeat": r["heartbeat_at"].isoformat(),
            }
            for r in rows
        ]


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 4)
