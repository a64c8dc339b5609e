"""What the hot path's statements read, on tables of realistic size.

The worker's by-id statements probe the primary key: the planner guesses 100
rows for a JSON parameter and, below some ten thousand jobs, found a
sequential scan about as cheap as that many probes. Under load those scans
took 20-240 ms per batch and stalled both workers' writes. The dispatcher's
window sizing reads a bounded sample of the latest completions, not all of
the last 30 s (75,000 rows at full speed).
"""

from __future__ import annotations

import asyncio
import uuid

import psycopg

from jobdesk.config import Settings
from jobdesk.dispatch.checker import StartChecker
from jobdesk.dispatch.dispatcher import DURATION_SAMPLE
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


def _completed(url: str, queue: str, n: int, seconds: float) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """
            INSERT INTO jobs (type, name, queue, user_id, organization_id, status, started_at, completed_at)
            SELECT 'bench.noop', 'done', %(queue)s, 'u', 'o', 'completed',
                   clock_timestamp() - make_interval(secs => %(seconds)s), clock_timestamp()
            FROM generate_series(1, %(n)s)
            """,
            {"queue": queue, "n": n, "seconds": seconds},
        )


async def test_window_means_come_from_the_latest_completions_only(clean: Settings) -> None:
    # Older slow jobs, then more fast ones than the sample holds: only the fast are read.
    await asyncio.to_thread(_completed, clean.database_url, "slow", 500, 2.0)
    await asyncio.to_thread(_completed, clean.database_url, "fast", DURATION_SAMPLE + 100, 0.001)
    with psycopg.connect(clean.database_url, autocommit=True) as conn:
        rows = conn.execute(q("recent_durations"), {"sample": DURATION_SAMPLE}).fetchall()
    assert [(r[0], r[2]) for r in rows] == [("fast", DURATION_SAMPLE)]
    assert float(rows[0][1]) < 0.01
