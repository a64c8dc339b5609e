"""JobsService: create, read, list, cancel, retry, stats and cleanup.

What the original's JobsService offered, in Python, with every error a
JobdeskError the server maps to a 4xx.
"""

from __future__ import annotations

import base64
import json
import math
import time
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
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
from jobdesk.store.jobs import ORDER_TYPES, ORDERS, JobStore, ListFilter, as_uuid
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
    # Where the next page starts (pass it as `cursor`); None when no row follows this page.
    next_cursor: str | None = None

    def to_api(self) -> dict[str, Any]:
        return {
            "items": [j.to_api() for j in self.items],
            "total": self.total,
            "limit": self.limit,
            "offset": self.offset,
            "nextCursor": self.next_cursor,
        }


@dataclass(frozen=True, slots=True)
class Batch:
    """What create_batch gave: the new batch's id (None if nothing was new), a job per spec, how many new."""

    batch_id: str | None
    items: list[Job]
    created: int

    def to_api(self) -> dict[str, Any]:
        return {
            "batchId": self.batch_id,
            "count": len(self.items),
            "created": self.created,
            "items": [j.to_api() for j in self.items],
        }


def encode_cursor(order: str, descending: bool, key: Any, job_id: uuid.UUID) -> str:
    """An opaque keyset position: the order, its direction, the last row's order key and id."""
    value = key.isoformat() if isinstance(key, datetime) else key
    raw = json.dumps([order, descending, value, str(job_id)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, order: str, descending: bool) -> tuple[Any, uuid.UUID]:
    """The (order key, id) a cursor names, checked against the list's order; InvalidInput if it is not one."""
    invalid = InvalidInput("cursor is not one this server gave out")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        c_order, c_descending, value, job_id = json.loads(raw)
    except (ValueError, TypeError):
        raise invalid from None
    # The order first: a cursor of a list in another order is named as such, not taken for a damaged one.
    known = isinstance(c_order, str) and c_order in ORDERS and isinstance(c_descending, bool)
    if known and (c_order, c_descending) != (order, descending):
        raise InvalidInput(
            f"cursor belongs to order={c_order} descending={str(c_descending).lower()}; "
            "ask with the same order, or start again without a cursor"
        )
    try:
        key = _cursor_key(ORDER_TYPES[order], value)
        jid = uuid.UUID(job_id)
    except (ValueError, TypeError, KeyError, AttributeError):
        raise invalid from None
    if (c_order, c_descending) != (order, descending):
        raise invalid
    return key, jid


def _cursor_key(sql_type: str, value: Any) -> Any:
    if sql_type == "timestamptz" and isinstance(value, str):
        return datetime.fromisoformat(value)
    if sql_type == "integer" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if sql_type == "float8" and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if sql_type == "text" and isinstance(value, str):
        return value
    raise ValueError(f"not a {sql_type}")


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
        await self._check_dependencies([new])
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
        """Many jobs in one transaction: all are stored, or none; a job for each spec, in order.

        A spec's idempotency key works as in create_job (see create_batch).
        """
        return (await self.create_batch(user_id, organization_id, specs)).items

    async def create_batch(
        self, user_id: str, organization_id: str, specs: list[JobSpec | dict[str, Any]]
    ) -> Batch:
        """Many jobs in one transaction: all are stored, or none.

        A spec whose `idempotencyKey` names a job of the organization created in
        the last 24 hours is answered with that job, which is left as it is; a
        key given twice here names one job, the first spec's. Only the jobs
        stored carry the new batch's id and count in its total; when every spec
        named an existing job, no batch is made and `batch_id` is None.
        """
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
        await self._check_dependencies(prepared, batch=True)
        batch = {"id": batch_id, "user_id": user_id, "organization_id": organization_id}
        got = await self.store.insert_many(prepared, batch, idempotency_window_s=IDEMPOTENCY_WINDOW_S)
        return Batch(batch_id if got.stored else None, got.items, got.stored)

    async def _check_dependencies(self, jobs: list[NewJob], *, batch: bool = False) -> None:
        """Every job's dependsOn names jobs of its organization: one query per organization,
        however many jobs a batch holds. In a batch, an error names its job's index."""

        def refuse(index: int, message: str) -> InvalidInput:
            return InvalidInput(f"job {index}: {message}" if batch else message)

        wanted: dict[str, set[uuid.UUID]] = {}
        for index, new in enumerate(jobs):
            ids = [as_uuid(d) for d in new.depends_on]
            if any(i is None for i in ids):
                raise refuse(index, "dependsOn must hold job ids")
            wanted.setdefault(new.organization_id, set()).update(i for i in ids if i is not None)
        if not any(wanted.values()):
            return
        found: dict[str, set[str]] = {}
        async with self.store.pool.connection() as conn:
            for org, parents in wanted.items():
                if not parents:
                    continue
                rows = await (
                    await conn.execute(
                        "SELECT id FROM jobs WHERE id = ANY(%s) AND organization_id = %s",
                        (list(parents), org),
                    )
                ).fetchall()
                found[org] = {str(r["id"]) for r in rows}
        for index, new in enumerate(jobs):
            named = {str(as_uuid(d)) for d in new.depends_on}
            missing = named - found.get(new.organization_id, set())
            if missing:
                raise refuse(index, f"dependsOn names unknown jobs: {', '.join(sorted(missing))}")

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
        cursor: str | None = None,
    ) -> Page:
        """A page of jobs and the filter's total.

        Pages come by `offset` or, faster at any depth, by `cursor`: the
        `next_cursor` of the page before (keyset pagination, in the same order).
        Walking a list by cursor gives every row that existed when the walk
        began exactly once, however many jobs are created meanwhile (with the
        default order, by creation; in an order by a changing field a row that
        changes may move past the cursor).
        """
        if status is not None and status not in JobStatus.__members__.values():
            allowed = ", ".join(s.value for s in JobStatus)
            raise InvalidInput(f"status must be one of {allowed}, not {status!r}")
        if not 1 <= limit <= LIST_LIMIT_MAX:
            raise InvalidInput(f"limit must be between 1 and {LIST_LIMIT_MAX}")
        if offset < 0:
            raise InvalidInput("offset must not be negative")
        if order not in ORDERS:
            raise InvalidInput(f"order must be one of {', '.join(ORDERS)}, not {order!r}")
        after = None
        if cursor is not None:
            if offset:
                raise InvalidInput("give a cursor or an offset, not both")
            after = decode_cursor(cursor, order, descending)
        where = ListFilter(organization_id, type, status, queue, search, parent_id, batch_id, limit, offset)
        got = await self.store.list(replace(where, order=order, descending=descending, after=after))
        next_cursor = encode_cursor(order, descending, *got.last_key) if got.last_key else None
        return Page(got.items, got.total, limit, offset, next_cursor)

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
        """Counts by status and type, and run times of the last 24 hours' completed jobs.

        Both come from the rollup PostgreSQL keeps (migration 0005), not from
        the jobs table: the counts are exact; the average run time is exact and
        the p95 is read from a histogram of 8 buckets per doubling, so within
        9 % of the exact percentile.
        """
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
        buckets = await self.store.execute("stats_durations", {"org": organization_id})
        avg_s, p95_s = duration_stats([(r["bucket"], r["n"], r["sum_us"]) for r in buckets])
        return {
            "total": total,
            "byStatus": by_status,
            "byType": by_type,
            "successRate": _rate(by_status["completed"], finished),
            "failureRate": _rate(by_status["failed"], finished),
            "averageDurationSeconds": _round(avg_s),
            "p95DurationSeconds": _round(p95_s),
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


# The rollup's run-time histogram: bucket b holds run times in [2^(b/8), 2^((b+1)/8)) microseconds.
BUCKETS_PER_DOUBLING = 8


def duration_stats(buckets: list[tuple[int, int, int]]) -> tuple[float | None, float | None]:
    """(average, p95) in seconds from (bucket, count, sum of microseconds) rows; Nones for no rows.

    The average is exact. The p95 follows percentile_cont(0.95): the values at
    the two ranks around 95 % of the way, interpolated. Each is estimated in its
    bucket as if the bucket's run times were spread evenly on a log scale, so at
    most one bucket (9 %) from the true value.
    """
    rows = sorted((b, n, s) for b, n, s in buckets if n > 0)
    count = sum(n for _, n, _ in rows)
    if not count:
        return None, None
    avg = sum(s for _, _, s in rows) / count / 1e6

    def at(rank: int) -> float:
        seen = 0
        for bucket, n, _ in rows:
            if rank < seen + n:
                return float(2 ** ((bucket + (rank - seen + 0.5) / n) / BUCKETS_PER_DOUBLING) / 1e6)
            seen += n
        raise AssertionError("rank beyond the histogram")

    rank = 0.95 * (count - 1)
    lo = math.floor(rank)
    low, high = at(lo), at(min(lo + 1, count - 1))
    return avg, low + (high - low) * (rank - lo)


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 4)

