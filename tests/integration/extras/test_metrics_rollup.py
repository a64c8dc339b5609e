"""/metrics counts come from the job-count rollup and match the jobs table at every step.

Each check compares every jobdesk_jobs, jobdesk_queue_depth, jobdesk_queue_scheduled
and jobdesk_queue_active sample with a count(*) over the jobs table, which is
what the metrics no longer run.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from jobdesk.service.metrics import Metrics
from tests.integration.extras.test_metrics import parse
from tests.support.asserts import wait_status

GAUGES = ("jobdesk_jobs", "jobdesk_queue_depth", "jobdesk_queue_scheduled", "jobdesk_queue_active")


def _later(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def _table_counts(engine: Any) -> dict[str, Counter[tuple[str, ...]]]:
    """What the gauges must show, counted from the jobs table itself."""
    async with engine.pool.connection() as conn:
        rows = await (
            await conn.execute(
                "SELECT status, type, queue, (status = 'pending' AND run_at > now()) AS later, count(*) AS n"
                " FROM jobs GROUP BY 1, 2, 3, 4"
            )
        ).fetchall()
    out: dict[str, Counter[tuple[str, ...]]] = {name: Counter() for name in GAUGES}
    for r in rows:
        out["jobdesk_jobs"][(r["status"], r["type"])] += r["n"]
        if r["status"] == "active":
            out["jobdesk_queue_active"][(r["queue"],)] += r["n"]
        elif r["status"] == "pending":
            name = "jobdesk_queue_scheduled" if r["later"] else "jobdesk_queue_depth"
            out[name][(r["queue"],)] += r["n"]
    return out


async def _metric_counts(metrics: Metrics) -> dict[str, Counter[tuple[str, ...]]]:
    families = parse(await metrics.render())
    out: dict[str, Counter[tuple[str, ...]]] = {}
    for name in GAUGES:
        labels = ("status", "type") if name == "jobdesk_jobs" else ("queue",)
        out[name] = Counter(
            {tuple(s.labels[k] for k in labels): int(s.value) for s in families[name] if s.value}
        )
    return out


async def _assert_match(metrics: Metrics, engine: Any, what: str) -> dict[str, Counter[tuple[str, ...]]]:
    got, want = await _metric_counts(metrics), await _table_counts(engine)
    assert got == want, f"{what}: metrics {got} != table {want}"
    return got


def _sql(engine: Any, statement: str, *args: Any) -> None:
    with psycopg.connect(engine.settings.database_url, autocommit=True) as conn:
        conn.execute(statement, args)


async def test_metrics_read_the_rollup_not_the_table(engine, tables):
    metrics = Metrics(engine.store, engine.settings, refresh_s=0.0)
    service = engine.service
    # The engine's compactor folds deltas every second: checks fall before and after it, as they may.
    empty = await _assert_match(metrics, engine, "empty")
    assert not any(empty.values())

    # Creates: single, batched, scheduled, in two organizations and three queues.
    now_jobs = [await service.create_job("u1", "org1", {"type": "test.noop"}) for _ in range(4)]
    await service.create_jobs("u2", "org2", [{"type": "test.record"}] * 3 + [{"type": "test.noop"}])
    later = [
        await service.create_job("u1", "org1", {"type": "test.noop", "runAt": _later(3600)}) for _ in range(3)
    ]
    soon = await service.create_job("u1", "org1", {"type": "test.record", "runAt": _later(1.5)})
    _sql(
        engine,
        "INSERT INTO jobs (type, name, queue, user_id, organization_id, run_at) VALUES"
        " ('test.noop', 'a', 'other-q', 'u', 'org3', now()),"
        " ('test.noop', 'b', 'other-q', 'u', 'org3', now() + interval '1 hour')",
    )
    got = await _assert_match(metrics, engine, "after creates")
    assert got["jobdesk_queue_scheduled"][("test",)] == 4 and got["jobdesk_queue_depth"][("test",)] == 8
    assert got["jobdesk_queue_depth"][("other-q",)] == 1 and got["jobdesk_queue_scheduled"][("other-q",)] == 1

    # Cancels: a runnable job and a scheduled one.
    await service.cancel_job(now_jobs[0].id)
    await service.cancel_job(later[0].id)
    await _assert_match(metrics, engine, "after cancels")

    # Runs and ends as a worker writes them: started, completed, failed; a retry waiting for its backoff.
    _sql(
        engine,
        "UPDATE jobs SET status = 'active', started_at = now(), attempts = 1 WHERE id = %s",
        now_jobs[1].id,
    )
    _sql(
        engine,
        "UPDATE jobs SET status = 'completed', started_at = now(), completed_at = now() WHERE id = %s",
        now_jobs[2].id,
    )
    _sql(engine, "UPDATE jobs SET status = 'failed', completed_at = now() WHERE id = %s", now_jobs[3].id)
    _sql(engine, "UPDATE jobs SET run_at = now() + interval '10 minutes' WHERE id = %s", later[1].id)
    got = await _assert_match(metrics, engine, "after runs")
    assert got["jobdesk_queue_active"][("test",)] == 1

    # With the deltas folded into the totals, the same answer.
    async with engine.pool.connection() as conn:
        await conn.execute("SELECT jobs_rollup_compact()")
    await _assert_match(metrics, engine, "after compaction")

    # Retry of a cancelled job, requeue and purge of dead letters, cleanup.
    await service.retry_job(now_jobs[0].id)
    await engine.flow.requeue_dead(None, ids=[now_jobs[3].id])
    await _assert_match(metrics, engine, "after retry and requeue")
    _sql(engine, "UPDATE jobs SET status = 'failed', completed_at = now() WHERE id = %s", now_jobs[3].id)
    assert await engine.flow.purge_dead(None, ids=[now_jobs[3].id]) == 1
    await _assert_match(metrics, engine, "after purge")

    # A scheduled job whose time comes moves from scheduled to depth with nothing written.
    await asyncio.sleep(max(0.0, (soon.run_at - datetime.now(UTC)).total_seconds()) + 0.2)
    got = await _assert_match(metrics, engine, "after runAt passed")
    assert got["jobdesk_queue_scheduled"][("test",)] == 2

    # TRUNCATE empties the rollup too.
    _sql(engine, "TRUNCATE jobs CASCADE")
    got = await _assert_match(metrics, engine, "after truncate")
    assert not any(got.values())


async def test_metrics_do_not_count_the_jobs_table(engine, tables):
    """The gauges' plan reads the rollup, and the jobs table only through the index of
    undispatched pending jobs by when they may run: the scheduled ones, not the backlog."""
    from jobdesk.service.extras_sql import xq

    _sql(
        engine,
        "INSERT INTO jobs (type, name, queue, user_id, organization_id, status, created_at, run_at)"
        " SELECT 'test.noop', 'j' || i, 'test', 'u', 'org1',"
        "        CASE WHEN i %% 5 = 0 THEN 'pending' ELSE 'completed' END,"
        "        now() - make_interval(secs => i), now() - make_interval(secs => i)"
        " FROM generate_series(1, 20000) i",
    )
    later = [{"type": "test.noop", "runAt": _later(3600)}] * 20
    await engine.service.create_jobs("u1", "org1", later)
    _sql(engine, "ANALYZE jobs")
    async with engine.pool.connection() as conn:
        rows = await (await conn.execute("EXPLAIN (FORMAT JSON) " + xq("metrics_job_counts"))).fetchall()
    plan = rows[0]["QUERY PLAN"][0]["Plan"]

    def nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
        return [node] + [n for child in node.get("Plans", []) for n in nodes(child)]

    every = nodes(plan)
    assert not [n for n in every if n["Node Type"] == "Seq Scan" and n["Relation Name"] == "jobs"], plan
    on_jobs = {n["Index Name"] for n in every if n.get("Index Name", "").startswith("jobs_")}
    assert on_jobs == {"jobs_waiting_since_idx"}, plan
    metrics = Metrics(engine.store, engine.settings, refresh_s=0.0)
    await _assert_match(metrics, engine, "a larger table")


@pytest.mark.slow
async def test_metrics_match_the_table_with_real_workers(engine, tables, shared_workers):
    metrics = Metrics(engine.store, engine.settings, refresh_s=0.0)
    service = engine.service
    done = [await service.create_job("u1", "org1", {"type": "test.noop"}) for _ in range(5)]
    failed = await service.create_job("u1", "org1", {"type": "test.fail", "maxAttempts": 1})
    waiting = await service.create_job("u1", "org1", {"type": "test.noop", "runAt": _later(3600)})
    cancelled = await service.create_job("u1", "org1", {"type": "test.noop", "runAt": _later(3600)})
    await service.cancel_job(cancelled.id)
    for j in done:
        await wait_status(service, j.id, {"completed"})
    await wait_status(service, failed.id, {"failed"})
    got = await _assert_match(metrics, engine, "after real runs")
    assert got["jobdesk_jobs"][("completed", "test.noop")] == 5
    assert got["jobdesk_jobs"][("failed", "test.fail")] == 1
    assert got["jobdesk_jobs"][("cancelled", "test.noop")] == 1
    assert got["jobdesk_queue_scheduled"][("test",)] == 1 and not got["jobdesk_queue_depth"][("test",)]
    assert waiting.id
