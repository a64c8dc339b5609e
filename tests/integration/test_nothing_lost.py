"""Nothing lost: a worker killed mid-run, and Redis forgetting everything."""

from __future__ import annotations

import os
import signal

import pytest

from tests.conftest import flush_namespace
from tests.support.asserts import count, eventually

pytestmark = pytest.mark.slow

N = 120


async def _create(engine, n: int, seconds: float) -> list[str]:
    return [
        (await engine.service.create_job("u", "o", {"type": "test.record", "data": {"seconds": seconds}})).id
        for _ in range(n)
    ]


async def _all_terminal(engine) -> bool:
    return (
        await count(engine.store.pool, "SELECT count(*) FROM jobs WHERE status IN ('pending', 'active')") == 0
    )


async def _duplicates(engine) -> int:
    return await count(
        engine.store.pool,
        "SELECT count(*) FROM (SELECT job_id FROM test_executions GROUP BY job_id HAVING count(*) > 1) d",
    )


async def test_sigkill_of_a_worker_mid_run_loses_no_job(engine, workers):
    workers.start(processes=1, threads=4)
    await _create(engine, N, 0.05)
    pool = engine.store.pool
    await eventually(
        lambda: count(pool, "SELECT count(*) >= 20 FROM jobs WHERE status = 'completed'"),
        what="some jobs to complete",
    )
    active_before = await count(pool, "SELECT count(*) FROM jobs WHERE status = 'active'")
    for pid in workers.worker_pids():
        os.kill(pid, signal.SIGKILL)
    workers.stop_all()
    workers.start(processes=1, threads=4)
    await eventually(lambda: _all_terminal(engine), timeout=60, what="every job to finish")
    completed = await count(pool, "SELECT count(*) FROM jobs WHERE status = 'completed'")
    lost_attempts = await count(
        pool, 'SELECT count(*) FROM jobs WHERE attempt_log @> \'[{"outcome": "lost"}]\''
    )
    retried = await count(pool, "SELECT count(*) FROM jobs WHERE attempts > 1")
    dups = await _duplicates(engine)
    print(
        f"\nSIGKILL: {completed}/{N} completed; {active_before} were active at the kill; "
        f"{lost_attempts} attempts recorded as lost; {retried} jobs ran more than once; "
        f"duplicates executed: {dups}"
    )
    assert completed == N
    assert lost_attempts == retried, "every extra run is a counted attempt"
    assert active_before == 0 or lost_attempts >= 1


async def test_redis_flushed_mid_run_every_job_still_completes(engine, workers, settings):
    # A prefetch of 1 keeps dispatched messages waiting in Redis rather than in
    # the worker's memory, so that the flush really takes them away.
    workers.start(processes=1, threads=4, env={"dramatiq_queue_prefetch": "1"})
    await _create(engine, N + 30, 0.02)
    pool = engine.store.pool
    await eventually(
        lambda: count(pool, "SELECT count(*) >= 20 FROM jobs WHERE status = 'completed'"),
        what="some jobs to complete",
    )
    deleted = flush_namespace(settings.redis, settings.namespace)
    await eventually(lambda: _all_terminal(engine), timeout=60, what="every job to finish")
    completed = await count(pool, "SELECT count(*) FROM jobs WHERE status = 'completed'")
    dups = await _duplicates(engine)
    stats = engine.reconciler.stats
    print(
        f"\nRedis flush: {deleted} keys deleted; {completed}/{N + 30} completed; "
        f"messages found lost: {stats.lost_messages}; duplicates executed: {dups}"
    )
    assert completed == N + 30
    assert stats.lost_messages > 0, "the flush should have lost in-flight messages"
