"""Cancelling pending and active jobs, cooperative or not."""

from __future__ import annotations

import asyncio
import time

import pytest

from jobdesk.core.errors import InvalidTransition, JobNotFound
from jobdesk.core.jobs import JobStatus
from tests.support.asserts import count, eventually, wait_status

pytestmark = pytest.mark.slow


async def test_pending_job_is_cancelled_at_once_and_never_runs(engine, workers):
    job = await engine.service.create_job("u", "o", {"type": "test.record"})
    cancelled = await engine.service.cancel_job(job.id)
    assert cancelled.status is JobStatus.CANCELLED and cancelled.completed_at is not None
    workers.start(processes=1, threads=2)
    marker = await engine.service.create_job("u", "o", {"type": "test.record"})
    await wait_status(engine.service, marker.id, {"completed"})
    assert (
        await count(engine.store.pool, "SELECT count(*) FROM test_executions WHERE job_id = %s", job.id) == 0
    )
    assert (await engine.service.get_job(job.id)).status is JobStatus.CANCELLED


async def test_job_cancelled_while_waiting_in_a_worker_never_runs(engine, workers):
    """The worker checks a message's job when Redis hands it over; a cancel after
    that check, while the message waits for a busy thread, must still win."""
    workers.start(processes=1, threads=1)
    busy = await engine.service.create_job("u", "o", {"type": "test.sleep", "data": {"seconds": 2}})
    await wait_status(engine.service, busy.id, {"active"})
    waiting = await engine.service.create_job("u", "o", {"type": "test.record"})
    # Dispatched, fetched by the worker and checked there, waiting for the one thread.
    await eventually(
        lambda: _dispatched(engine, waiting.id), timeout=10, what="the waiting job to be dispatched"
    )
    await asyncio.sleep(0.5)
    await engine.service.cancel_job(waiting.id)
    marker = await engine.service.create_job("u", "o", {"type": "test.record"})
    await wait_status(engine.service, marker.id, {"completed"}, timeout=30)
    runs = await count(
        engine.store.pool, "SELECT count(*) FROM test_executions WHERE job_id = %s", waiting.id
    )
    assert runs == 0
    assert (await engine.service.get_job(waiting.id)).status is JobStatus.CANCELLED


async def _dispatched(engine, job_id: str) -> bool:
    return (
        await count(
            engine.store.pool, "SELECT count(*) FROM jobs WHERE id = %s AND dispatched_at IS NOT NULL", job_id
        )
        == 1
    )


async def test_active_job_reporting_progress_stops_within_two_seconds(engine, workers):
    workers.start(processes=1, threads=2)
    job = await engine.service.create_job(
        "u", "o", {"type": "test.sleep", "data": {"seconds": 30, "steps": 300}, "maxAttempts": 3}
    )
    await wait_status(engine.service, job.id, {"active"})
    t0 = time.monotonic()
    requested = await engine.service.cancel_job(job.id)
    assert requested.cancel_requested_at is not None
    done = await wait_status(engine.service, job.id, {"cancelled"}, timeout=5)
    elapsed = time.monotonic() - t0
    print(f"\ncooperative cancel took {elapsed:.2f}s")
    assert elapsed < 2.0
    assert done.progress.current < 300
    # A cancelled job is not retried, though it had attempts left.
    await asyncio.sleep(1.0)
    after = await engine.service.get_job(job.id)
    assert after.status is JobStatus.CANCELLED and after.attempts == 1


async def test_handler_that_never_checks_is_interrupted_after_grace(engine, workers, settings):
    workers.start(processes=1, threads=2)
    job = await engine.service.create_job("u", "o", {"type": "test.stubborn", "data": {"seconds": 60}})
    await wait_status(engine.service, job.id, {"active"})
    t0 = time.monotonic()
    await engine.service.cancel_job(job.id)
    done = await wait_status(engine.service, job.id, {"cancelled"}, timeout=10)
    elapsed = time.monotonic() - t0
    print(f"\nnon-cooperative cancel took {elapsed:.2f}s (grace {settings.cancel_grace_s}s)")
    assert settings.cancel_grace_s <= elapsed < settings.cancel_grace_s + 3
    assert "interrupted" in done.error["message"]
    # The worker thread survived the interruption and takes new work.
    nxt = await engine.service.create_job("u", "o", {"type": "test.noop"})
    await wait_status(engine.service, nxt.id, {"completed"})


async def test_finished_jobs_cannot_be_cancelled_and_others_orgs_are_invisible(engine, workers):
    workers.start(processes=1, threads=1)
    job = await engine.service.create_job("u", "org-a", {"type": "test.noop"})
    await wait_status(engine.service, job.id, {"completed"})
    with pytest.raises(InvalidTransition):
        await engine.service.cancel_job(job.id)
    with pytest.raises(InvalidTransition):
        await engine.service.retry_job(job.id)
    with pytest.raises(JobNotFound):
        await engine.service.cancel_job(job.id, "org-b")
    with pytest.raises(JobNotFound):
        await engine.service.get_job(job.id, "org-b")
    with pytest.raises(JobNotFound):
        await engine.service.get_job("not-a-uuid")


async def test_retry_racing_cancel_never_moves_a_job_backwards(engine, workers):
    """Many concurrent retries and cancels on finished jobs: each ends in a state
    reachable by some order of the calls, never completed-then-pending."""
    workers.start(processes=1, threads=2)
    done = await engine.service.create_job("u", "o", {"type": "test.noop"})
    failed = await engine.service.create_job("u", "o", {"type": "test.fail", "maxAttempts": 1})
    await wait_status(engine.service, done.id, {"completed"})
    await wait_status(engine.service, failed.id, {"failed"})
    calls = [engine.service.retry_job(done.id) for _ in range(5)] + [
        engine.service.cancel_job(done.id) for _ in range(5)
    ]
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(r, InvalidTransition) for r in results)
    assert (await engine.service.get_job(done.id)).status is JobStatus.COMPLETED
    calls = [engine.service.retry_job(failed.id) for _ in range(5)]
    calls += [engine.service.cancel_job(failed.id) for _ in range(5)]
    results = await asyncio.gather(*calls, return_exceptions=True)
    ok = [r for r in results if not isinstance(r, Exception)]
    assert all(isinstance(r, InvalidTransition) for r in results if isinstance(r, Exception))
    assert ok, "at least one retry must win"
