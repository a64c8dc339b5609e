"""Batches, dead letters, rate limits, and why a job is waiting.

The roadmap's flow controls, as service calls that the REST routes, the CLI
and the console share. Every call takes the caller's organization (None for
an admin) and never reaches outside it.
"""

from __future__ import annotations

import uuid
from typing import Any

from psycopg.rows import dict_row

from jobdesk.config import Settings
from jobdesk.core.errors import InvalidInput, NotFound
from jobdesk.core.jobs import JobStatus
from jobdesk.dispatch import limits
from jobdesk.service.extras_sql import fetch, xq
from jobdesk.service.jobs import JobsService, Page
from jobdesk.store.jobs import JobStore, as_uuid
from jobdesk.store.sql import q

SCOPES = ("type", "organization")
LIMIT_MAX = 100_000
BATCHES_LIMIT_MAX = 500


def validate_rate_limit(scope: str, key: str, per_second: float | None, max_concurrent: int | None) -> None:
    """InvalidInput naming what is wrong with a limit; shared by the REST routes, the CLI and the console."""
    if scope not in SCOPES:
        raise InvalidInput(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    if not key or len(key) > 200:
        raise InvalidInput("key must be 1 to 200 characters")
    if per_second is None and max_concurrent is None:
        raise InvalidInput("give perSecond, maxConcurrent or both")
    if per_second is not None and not 0 < per_second <= LIMIT_MAX:
        raise InvalidInput(f"perSecond must be above 0 and at most {LIMIT_MAX}")
    if max_concurrent is not None and not 0 < max_concurrent <= LIMIT_MAX:
        raise InvalidInput(f"maxConcurrent must be between 1 and {LIMIT_MAX}")


def batch_to_api(r: dict[str, Any]) -> dict[str, Any]:
    """A list_batches row as REST, the WebSocket and the console show it."""
    return {
        "id": str(r["id"]),
        "total": r["total"],
        "userId": r["user_id"],
        "organizationId": r["organization_id"],
        "byStatus": {s.value: r[s.value] for s in JobStatus},
        "percentage": round(float(r["percentage"]), 2),
        "createdAt": r["created_at"].isoformat(),
        "completedAt": r["completed_at"].isoformat() if r["completed_at"] else None,
    }


class FlowService:
    def __init__(self, jobs: JobsService, settings: Settings) -> None:
        self.jobs = jobs
        self.store: JobStore = jobs.store
        self.settings = settings

    # -- batches -----------------------------------------------------------------------

    async def get_batch(self, batch_id: str, organization_id: str | None = None) -> dict[str, Any]:
        bid = as_uuid(batch_id)
        params = {"id": bid, "org": organization_id, "open": False, "limit": 1, "offset": 0}
        rows = await fetch(self.store.pool, "list_batches", params) if bid else []
        if not rows:
            raise NotFound(f"batch {batch_id} not found")
        return batch_to_api(rows[0])

    async def list_batches(
        self,
        organization_id: str | None = None,
        *,
        open_only: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> dict[str, Any]:
        """Batches newest first with their summaries: `{items, total, limit, offset}`."""
        limit = max(1, min(limit, BATCHES_LIMIT_MAX))
        params = {"id": None, "org": organization_id, "open": open_only, "limit": limit}
        params["offset"] = max(0, offset)
        # One snapshot for the page and its total: read apart, a batch finishing
        # in between gave a page of two open batches with a total of one.
        async with (
            self.store.pool.connection() as conn,
            conn.transaction(),
            conn.cursor(row_factory=dict_row) as cur,
        ):
            await cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            await cur.execute(xq("list_batches"), params)
            rows = await cur.fetchall()
            await cur.execute(xq("count_batches"), params)
            total = (await cur.fetchall())[0]["n"]
        return {"items": [batch_to_api(r) for r in rows], "total": total, "limit": limit, "offset": offset}

    # -- dead letters -------------------------------------------------------------------

    async def dead_letters(
        self,
        organization_id: str | None = None,
        *,
        type: str | None = None,
        limit: int = 20,
        offset: int = 0,
        cursor: str | None = None,
    ) -> Page:
        """Jobs that failed their last attempt, newest first, with their errors.

        Pages come by `offset` or by `cursor` (the page before's `next_cursor`),
        as in JobsService.list_jobs.
        """
        return await self.jobs.list_jobs(
            organization_id, type=type, status="failed", limit=limit, offset=offset, cursor=cursor
        )

    async def requeue_dead(
        self,
        organization_id: str | None = None,
        *,
        ids: list[str] | None = None,
        type: str | None = None,
    ) -> int:
        """Make failed jobs pending again: the given ids, or all (of a type)."""
        rows = await self.store.execute("requeue_dead", self._dead_params(organization_id, ids, type))
        return len(rows)

    async def purge_dead(
        self,
        organization_id: str | None = None,
        *,
        ids: list[str] | None = None,
        type: str | None = None,
    ) -> int:
        rows = await self.store.execute("purge_dead", self._dead_params(organization_id, ids, type))
        return len(rows)

    @staticmethod
    def _dead_params(org: str | None, ids: list[str] | None, job_type: str | None) -> dict[str, Any]:
        parsed = None
        if ids is not None:
            if not ids:
                raise InvalidInput("ids must name at least one job (leave it out to mean all)")
            parsed = [as_uuid(i) for i in ids]
            if any(p is None for p in parsed):
                raise InvalidInput("ids must be job ids")
        return {"org": org, "ids": parsed, "type": job_type}

    # -- rate limits -----------------------------------------------------------------------

    async def rate_limits(self) -> list[dict[str, Any]]:
        return [
            {
                "scope": r["scope"],
                "key": r["key"],
                "perSecond": r["per_second"],
                "maxConcurrent": r["max_concurrent"],
            }
            for r in await self.store.execute("rate_limits", {})
        ]

    async def set_rate_limit(
        self, scope: str, key: str, *, per_second: float | None = None, max_concurrent: int | None = None
    ) -> dict[str, Any]:
        validate_rate_limit(scope, key, per_second, max_concurrent)
        async with self.store.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO rate_limits (scope, key, per_second, max_concurrent, tokens)"
                " VALUES (%s, %s, %s, %s, coalesce(%s, 0))"
                " ON CONFLICT (scope, key) DO UPDATE SET per_second = EXCLUDED.per_second,"
                " max_concurrent = EXCLUDED.max_concurrent",
                (scope, key, per_second, max_concurrent, per_second),
            )
        return {"scope": scope, "key": key, "perSecond": per_second, "maxConcurrent": max_concurrent}

    async def remove_rate_limit(self, scope: str, key: str) -> None:
        async with self.store.pool.connection() as conn:
            cur = await conn.execute("DELETE FROM rate_limits WHERE scope = %s AND key = %s", (scope, key))
            if cur.rowcount == 0:
                raise NotFound(f"no rate limit for {scope} {key!r}")

    # -- why is this job waiting? ---------------------------------------------------------------

    async def explain(self, job_id: str, organization_id: str | None = None) -> dict[str, Any]:
        """What holds a pending job, most decisive first."""
        job = await self.jobs.get_job(job_id, organization_id)
        reasons: list[dict[str, Any]] = []
        if job.status is not JobStatus.PENDING:
            return {"jobId": job.id, "status": job.status.value, "waiting": False, "reasons": []}
        async with self.store.pool.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT run_at > now() AS later, dispatched_at IS NOT NULL AS dispatched,"
                    " created_at, priority FROM jobs WHERE id = %s",
                    (uuid.UUID(job.id),),
                )
            ).fetchone()
            assert row is not None
            if row["dispatched"]:
                reasons.append(
                    {"kind": "dispatched", "message": "sent to the workers; waiting for a free thread"}
                )
            if row["later"]:
                kind = "backoff" if job.attempts else "scheduled"
                what = "retry backoff" if job.attempts else "scheduled"
                reasons.append(
                    {
                        "kind": kind,
                        "until": job.run_at.isoformat() if job.run_at else None,
                        "message": f"{what} until {job.run_at.isoformat() if job.run_at else '?'}",
                    }
                )
            paused = await (
                await conn.execute("SELECT paused FROM queues WHERE name = %s", (job.queue,))
            ).fetchone()
            if paused and paused["paused"]:
                reasons.append({"kind": "paused", "message": f"queue {job.queue} is paused"})
            if job.depends_on:
                parents = await (
                    await conn.execute(
                        "SELECT id, status FROM jobs WHERE id = ANY(%s) AND status <> 'completed'",
                        ([uuid.UUID(d) for d in job.depends_on],),
                    )
                ).fetchall()
                for p in parents:
                    reasons.append(
                        {
                            "kind": "dependency",
                            "jobId": str(p["id"]),
                            "status": p["status"],
                            "message": f"waits for job {p['id']} ({p['status']})",
                        }
                    )
            reasons.extend(await self._limit_reasons(conn, job.type, job.organization_id))
            workers = await (
                await conn.execute(q("live_workers"), {"dead_after": self.settings.worker_dead_after_s})
            ).fetchall()
            serving = [w for w in workers if job.queue in w["queues"]]
            if not serving:
                reasons.append({"kind": "no-workers", "message": f"no live worker serves queue {job.queue}"})
            served = sorted({qn for w in serving for qn in w["queues"]}) or [job.queue]
            ahead = await (
                await conn.execute(
                    "SELECT count(*) AS n FROM jobs WHERE status = 'pending' AND dispatched_at IS NULL"
                    " AND run_at <= now() AND queue = ANY(%s) AND id <> %s"
                    " AND (priority > %s OR (priority = %s AND created_at < %s))",
                    (served, uuid.UUID(job.id), row["priority"], row["priority"], row["created_at"]),
                )
            ).fetchone()
        if ahead and ahead["n"]:
            reasons.append(
                {
                    "kind": "priority",
                    "ahead": ahead["n"],
                    "message": f"{ahead['n']} runnable jobs are ahead of it by priority and age",
                }
            )
        return {"jobId": job.id, "status": job.status.value, "waiting": True, "reasons": reasons}

    async def _limit_reasons(self, conn: Any, job_type: str, org: str) -> list[dict[str, Any]]:
        rows = await (
            await conn.execute(
                "SELECT scope, key, per_second, max_concurrent, least(coalesce(per_second, 0), tokens"
                " + coalesce(per_second, 0) * extract(epoch FROM now() - refilled_at)) AS tokens"
                " FROM rate_limits"
                " WHERE (scope = 'type' AND key = %s) OR (scope = 'organization' AND key = %s)",
                (job_type, org),
            )
        ).fetchall()
        out = []
        for r in rows:
            inflight = 0
            if r["max_concurrent"]:
                column = "type" if r["scope"] == "type" else "organization_id"
                n = await (
                    await conn.execute(
                        f"SELECT count(*) AS n FROM jobs WHERE {column} = %s AND (status = 'active'"
                        " OR (status = 'pending' AND dispatched_at IS NOT NULL))",
                        (r["key"],),
                    )
                ).fetchone()
                inflight = n["n"]
            budget = limits.Budget(r["per_second"], r["max_concurrent"], float(r["tokens"] or 0), inflight)
            why = limits.blocked_by(budget, 0)
            if why:
                out.append(
                    {
                        "kind": "rate-limit",
                        "scope": r["scope"],
                        "key": r["key"],
                        "message": f"{r['scope']} {r['key']} is {why}",
                    }
                )
        return out
