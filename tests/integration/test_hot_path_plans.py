"""The worker's by-id statements probe the primary key on a table of a few thousand jobs.

The planner guesses 100 rows for a JSON parameter and, below some ten thousand
jobs, found a sequential scan about as cheap as that many probes. Under load
those scans took 20-240 ms per batch and stalled both workers' writes.
"""

from __future__ import annotations

import asyncio
import uuid

import psycopg

from jobdesk.config import Settings
from jobdesk.dispatch.checker import StartChecker
from jobdesk.dispatch.writer import Finish, StateWriter, finish_rows
from jobdesk.store.sql import q

JOBS = 8_000
BATCH = 40


def _fill(url: str) -> list[tuple[uuid.UUID, int]]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            """
            INSERT INTO jobs (type, name, queue, user_id, organization_id, dispatched_at, dispatch_token)
            SELECT 'bench.noop', 'noop ' || i, 'bench', 'u', 'o', now(), 1
            FROM generate_series(1, %s) AS i
            RETURNING id, dispatch_token
            """,
            (JOBS,),
        ).fetchall()
        conn.execute("ANALYZE jobs")
    return [(r[0], r[1]) for r in rows[:: JOBS // BATCH]][:BATCH]


def _plan(conn: psycopg.Connection, name: str, params: dict) -> str:
    rows = conn.execute("EXPLAIN " + q(name), params).fetchall()
    return "\n".join(str(next(iter(r.values()))) for r in rows)


async def test_finish_and_start_check_probe_by_key(clean: Settings) -> None:
    picked = await asyncio.to_thread(_fill, clean.database_url)
    writer = StateWriter(clean.database_url, "test-host:1:plans", 0.1)
    checker = StartChecker(clean.database_url)
    writer.start()
    checker.start()
    try:
        assert writer._conn is not None
        finishes = [Finish(str(i), t, "completed", result={"ok": True}) for i, t in picked]
        finish_plan = _plan(
            writer._conn,
            "finish_jobs",
            {"rows": finish_rows(finishes), "ids": [f.job_id for f in finishes], "worker_id": "w"},
        )
        assert "Seq Scan on jobs" not in finish_plan, finish_plan
        assert checker._conn is not None
        check_plan = _plan(
            checker._conn,
            "startable_jobs",
            {"ids": [i for i, _ in picked], "tokens": [t for _, t in picked]},
        )
        assert "Seq Scan on jobs" not in check_plan, check_plan
    finally:
        checker.stop()
        writer.stop()
