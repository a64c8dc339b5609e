"""JobStore: the async queries behind JobsService and the dispatcher."""

from __future__ import annotations

import builtins
import json
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg import sql as pgsql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from jobdesk.core.errors import InvalidTransition
from jobdesk.core.jobs import Job
from jobdesk.core.prepare import NewJob
from jobdesk.store.db import AsyncPool
from jobdesk.store.rows import row_to_job
from jobdesk.store.sql import q


def new_job_params(new: NewJob) -> dict[str, Any]:
    return {
        "type": new.type,
        "name": new.name,
        "description": new.description,
        "queue": new.queue,
        "priority": new.priority,
        "data": Jsonb(new.data),
        "max_attempts": new.max_attempts,
        "backoff_base_ms": new.backoff_base_ms,
        "backoff_cap_ms": new.backoff_cap_ms,
        "user_id": new.user_id,
        "organization_id": new.organization_id,
        "run_at": new.run_at,
        "depends_on": [uuid.UUID(d) for d in new.depends_on],
        "idempotency_key": new.idempotency_key,
        "dependency_policy": new.dependency_policy,
        "notify": Jsonb(list(new.notify)) if new.notify else None,
        "parent_id": new.parent_id,
        "batch_id": new.batch_id,
    }


def _rows_json(ids: list[uuid.UUID], jobs: list[NewJob]) -> str:
    """Jobs as one JSON array, for insert_jobs.

    One text parameter that PostgreSQL parses in C: per-column arrays took
    psycopg longer to build in Python than the INSERT took to run.
    """
    return json.dumps(
        [
            {
                "id": str(job_id),
                "type": new.type,
                "name": new.name,
                "description": new.description,
                "queue": new.queue,
                "priority": new.priority,
                "data": new.data,
                "max_attempts": new.max_attempts,
                "backoff_base_ms": new.backoff_base_ms,
                "backoff_cap_ms": new.backoff_cap_ms,
                "user_id": new.user_id,
                "organization_id": new.organization_id,
                "run_at": new.run_at.isoformat() if new.run_at else None,
                "depends_on": list(new.depends_on),
                "idempotency_key": new.idempotency_key,
                "dependency_policy": new.dependency_policy,
                "parent_id": new.parent_id,
                "batch_id": new.batch_id,
                "notify": list(new.notify) or None,
            }
            for job_id, new in zip(ids, jobs, strict=True)
        ]
    )


def _stored_row(new: NewJob, returned: dict[str, Any]) -> dict[str, Any]:
    """A stored job's full row: what we sent, and what PostgreSQL filled in.

    insert_jobs returns only the latter: parsing back thousands of rows of
    data we already hold was a third of a batch create's time.
    """
    return {
        **returned,
        "type": new.type,
        "name": new.name,
        "description": new.description,
        "queue": new.queue,
        "priority": new.priority,
        "data": new.data,
        "progress_message": None,
        "result": None,
        "error": None,
        "max_attempts": new.max_attempts,
        "user_id": new.user_id,
        "organization_id": new.organization_id,
        "started_at": None,
        "completed_at": None,
        "cancel_requested_at": None,
        "worker_id": None,
        "parent_id": new.parent_id,
        "batch_id": new.batch_id,
        "depends_on": list(new.depends_on),
        "dependency_policy": new.dependency_policy,
        "notify": list(new.notify),
        "attempt_log": [],
    }


@dataclass(frozen=True, slots=True)
class ListFilter:
    organization_id: str | None = None
    type: str | None = None
    status: str | None = None
    queue: str | None = None
    search: str | None = None
    parent_id: str | None = None
    batch_id: str | None = None
    limit: int = 20
    offset: int = 0
    order: str = "created"
    descending: bool = True
    # Keyset pagination: only rows after this (order key, id) in the list's order.
    after: tuple[Any, uuid.UUID] | None = None

    @property
    def counted_by_rollup(self) -> bool:
        """True when the job-count rollup (migration 0005) answers this filter's total."""
        return not self.search and self.parent_id is None and self.batch_id is None


@dataclass(frozen=True, slots=True)
class ListResult:
    items: list[Job]
    total: int
    # (order key, id) of the last item when more rows follow it, for the next page's `after`.
    last_key: tuple[Any, uuid.UUID] | None


# What a list may be ordered by: fixed expressions, never text from a caller.
# None is nullable, so no NULLS clause is needed and the created_at indexes still serve the default order.
ORDERS: dict[str, str] = {
    "created": "created_at",
    "updated": "updated_at",
    "name": "name",
    "type": "type",
    "queue": "queue",
    "status": "status",
    "priority": "priority",
    "attempts": "attempts",
    "progress": "COALESCE(progress_current::float8 / NULLIF(progress_total, 0), 0)",
}


# The SQL type of each order's key, for a keyset position sent back by a client.
ORDER_TYPES: dict[str, str] = {
    "created": "timestamptz",
    "updated": "timestamptz",
    "name": "text",
    "type": "text",
    "queue": "text",
    "status": "text",
    "priority": "integer",
    "attempts": "integer",
    "progress": "float8",
}


@dataclass(frozen=True, slots=True)
class Inserted:
    """What insert_many gave: a job for each one asked for, in order, and how many were stored."""

    items: list[Job]
    stored: int


class _KeyMoved(Exception):
    """A key's job was not there to read after the insert skipped it: the transaction is tried again."""


_BATCH_TRIES = 3


def _key_order(new: NewJob, index: int) -> tuple[bool, str, str, int]:
    return (new.idempotency_key is not None, new.organization_id, new.idempotency_key or "", index)


async def _insert_once(
    conn: AsyncConnection[Any], jobs: list[NewJob], window_s: float
) -> tuple[list[dict[str, Any]], int]:
    """Insert jobs with distinct keys; the row standing for each (its own, or the key's holder) and how
    many were stored. _KeyMoved if a key's holder is gone by the time it is read."""
    keyed = [(new.organization_id, new.idempotency_key) for new in jobs if new.idempotency_key is not None]
    keys = {"orgs": [org for org, _ in keyed], "keys": [key for _, key in keyed]}
    ids = [uuid.uuid4() for _ in jobs]
    async with conn.cursor(row_factory=dict_row) as cur:
        if keyed:
            await cur.execute(q("release_stale_idempotency_keys"), {**keys, "window_s": window_s})
        await cur.execute(q("insert_jobs"), {"rows": _rows_json(ids, jobs)})
        stored = {r["id"]: r for r in await cur.fetchall()}
        held: dict[tuple[str, str], dict[str, Any]] = {}
        if len(stored) < len(jobs):
            await cur.execute(q("jobs_by_idempotency_keys"), keys)
            held = {(r["organization_id"], r["idempotency_key"]): r for r in await cur.fetchall()}
    rows = []
    for jid, new in zip(ids, jobs, strict=True):
        returned = stored.get(jid)
        row = _stored_row(new, returned) if returned is not None else None
        if row is None and new.idempotency_key is not None:
            row = held.get((new.organization_id, new.idempotency_key))
        if row is None:
            # The job holding the key went away (deleted, or its key released) since the insert.
            raise _KeyMoved
        rows.append(row)
    return rows, len(stored)


def as_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (ValueError, AttributeError, TypeError):
        return None


class JobStore:
    def __init__(self, pool: AsyncPool) -> None:
        self.pool = pool

    async def insert(self, new: NewJob) -> Job:
        async with self.pool.connection() as conn:
            cur = await conn.execute(q("insert_job"), new_job_params(new))
            row = await cur.fetchone()
        assert row is not None
        return row_to_job(row)

    async def insert_many(
        self,
        jobs: list[NewJob],
        batch: dict[str, Any] | None = None,
        *,
        idempotency_window_s: float = 24 * 3600,
    ) -> Inserted:
        """All or nothing, in one transaction: the jobs, and the batch's own row if given.

        A job whose idempotency key names a job created in the last
        `idempotency_window_s` is not stored: that job stands for it, as in a
        single create. So does the first of several jobs here with one key. A
        key whose job is older gives it up and names a new job. The batch row
        (its `total`, the jobs stored) is written only when a job was stored.
        """
        # Each job's stand-in: itself, or the first job here with its (organization, key).
        first: dict[tuple[str, str], int] = {}
        stand_in = [
            i
            if new.idempotency_key is None
            else first.setdefault((new.organization_id, new.idempotency_key), i)
            for i, new in enumerate(jobs)
        ]
        # Keyed rows go in key order, so two batches sharing keys lock them in the same order.
        order = sorted(set(stand_in), key=lambda i: _key_order(jobs[i], i))
        for _ in range(_BATCH_TRIES):
            try:
                async with self.pool.connection() as conn, conn.transaction():
                    rows, stored = await _insert_once(conn, [jobs[i] for i in order], idempotency_window_s)
                    if batch is not None and stored:
                        await conn.execute(q("insert_batch"), {**batch, "total": stored})
            except (_KeyMoved, psycopg.errors.DeadlockDetected):
                continue
            by_index = dict(zip(order, rows, strict=True))
            return Inserted([row_to_job(by_index[i]) for i in stand_in], stored)
        raise InvalidTransition("the batch's idempotency keys are contended; try again")

    async def get(self, job_id: str, organization_id: str | None = None) -> Job | None:
        jid = as_uuid(job_id)
        if jid is None:
            return None
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT * FROM jobs WHERE id = %s AND (%s::text IS NULL OR organization_id = %s)",
                (jid, organization_id, organization_id),
            )
            row = await cur.fetchone()
        return row_to_job(row) if row else None

    async def get_many(self, ids: list[str]) -> list[Job]:
        async with self.pool.connection() as conn:
            cur = await conn.execute("SELECT * FROM jobs WHERE id = ANY(%s)", ([uuid.UUID(i) for i in ids],))
            rows = await cur.fetchall()
        return [row_to_job(r) for r in rows]

    async def list(self, f: ListFilter) -> ListResult:
        """A page in the filter's order, the filter's total, and where the next page starts."""
        page, page_params = page_query(f)
        count, count_params = count_query(f)
        # One snapshot for both, so a page never disagrees with its total.
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            rows = await (await conn.execute(page, page_params)).fetchall()
            row = await (await conn.execute(count, count_params)).fetchone()
        total = int(row["n"]) if row else 0
        more = len(rows) > f.limit
        rows = rows[: f.limit]
        last_key = (rows[-1]["_order_key"], rows[-1]["id"]) if more else None
        return ListResult([row_to_job(r) for r in rows], total, last_key)

    async def run_one(self, name: str, params: dict[str, Any]) -> Job | None:
        """Run a named single-row state change; the job after it, or None if it did not apply."""
        async with self.pool.connection() as conn:
            row = await (await conn.execute(q(name), params)).fetchone()
        return row_to_job(row) if row else None

    # `builtins.list`: in this class `list` names the method above.
    async def execute(self, name: str, params: dict[str, Any]) -> builtins.list[dict[str, Any]]:
        async with self.pool.connection() as conn:
            cur = await conn.execute(q(name), params)
            return await cur.fetchall() if cur.description else []


def page_query(f: ListFilter) -> tuple[pgsql.Composed, list[Any]]:
    """The page's query: one row more than the page (whether another follows), each with its order key."""
    where, params = _where(f)
    order = pgsql.SQL(ORDERS[f.order])
    direction = pgsql.SQL("DESC" if f.descending else "ASC")
    if f.after is not None:
        # PostgreSQL starts the order's index scan at the row comparison's first column.
        where = pgsql.SQL("{w} AND ({o}, id) {op} (%s::{t}, %s::uuid)").format(
            w=where,
            o=order,
            op=pgsql.SQL("<" if f.descending else ">"),
            t=pgsql.SQL(ORDER_TYPES[f.order]),
        )
        params = [*params, *f.after]
    query = pgsql.SQL(
        "SELECT *, {o} AS _order_key FROM jobs WHERE {w} ORDER BY {o} {d}, id {d} LIMIT %s OFFSET %s"
    ).format(w=where, o=order, d=direction)
    return query, [*params, f.limit + 1, f.offset]


def count_query(f: ListFilter) -> tuple[pgsql.SQL | pgsql.Composed, dict[str, Any] | list[Any]]:
    """The filter's total: from the job-count rollup (migration 0005) when the filter is made only
    of organization, type, queue and status (a few hundred rows read), else an exact count(*)."""
    if f.counted_by_rollup:
        return pgsql.SQL(q("count_jobs")), {
            "org": f.organization_id,
            "type": f.type,
            "queue": f.queue,
            "status": f.status,
        }
    where, params = _where(f)
    return pgsql.SQL("SELECT count(*) AS n FROM jobs WHERE {w}").format(w=where), params


def _where(f: ListFilter) -> tuple[pgsql.Composable, list[Any]]:
    clauses: list[pgsql.Composable] = [pgsql.SQL("TRUE")]
    params: list[Any] = []
    for column, value in (
        ("organization_id", f.organization_id),
        ("type", f.type),
        ("status", f.status),
        ("queue", f.queue),
    ):
        if value is not None:
            clauses.append(pgsql.SQL("{} = %s").format(pgsql.Identifier(column)))
            params.append(value)
    if f.parent_id is not None:
        clauses.append(pgsql.SQL("parent_id = %s"))
        params.append(as_uuid(f.parent_id))
    if f.batch_id is not None:
        clauses.append(pgsql.SQL("batch_id = %s"))
        params.append(as_uuid(f.batch_id))
    if f.search:
        # An id (or its prefix) or a piece of the name.
        clauses.append(pgsql.SQL("(name ILIKE %s OR id::text LIKE %s)"))
        escaped = f.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params.extend([f"%{escaped}%", f"{escaped.lower()}%"])
    return pgsql.SQL(" AND ").join(clauses), params
