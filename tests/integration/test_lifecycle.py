"""A job's life against the real PostgreSQL, Redis and worker processes."""

from __future__ import annotations

import asyncio

import pytest

from jobdesk.core.events import JobEvent
from jobdesk.core.jobs import JobStatus
from tests.support.asserts import eventually
from tests.support.workers import query

pytestmark = pytest.mark.slow


async def wait_status(service, job_id: str, statuses: set[str], timeout: float = 30):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        job = await service.get_job(job_id)
        if job.status.value in statuses:
            return job
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"job {job_id} still {job.status.value} after {timeout}s")
        await asyncio.sleep(0.05)


async def test_jobs_complete_with_results_and_events(engine, workers):
    events: list[JobEvent] = []
    engine.hub.subscribe(events.extend)
    workers.start(processes=1, threads=4)
    jobs = [
        await engine.service.create_job(
            "u1", "org1", {"type": "test.sleep", "data": {"seconds": 0.2, "steps": 4}}
        )
        for _ in range(5)
    ]
    for j in jobs:
        done = await wait_status(engine.service, j.id, {"completed"})
        assert done.result == {"steps": 4}
        assert done.attempts == 1
        assert done.progress.current == 4 and done.progress.percentage == 100.0
        assert done.started_at and done.completed_at and done.completed_at >= done.started_at
    await asyncio.sleep(0.3)
    for j in jobs:
        names = [e.name.value for e in events if e.job.id == j.id]
        assert names[0] == "job-created"
        assert names[-1] == "job-completed"
        assert "job-update" in names[1:-1]


async def test_async_handler(engine, workers):
    workers.start(processes=1, threads=1)
    job = await engine.service.create_job("u1", "org1", {"type": "test.async"})
    done = await wait_status(engine.service, job.id, {"completed"})
    assert done.result == {"async": True}


async def test_duplicate_message_for_completed_job_does_nothing(engine, workers, settings):
    """A redelivered message must not run a finished job again, nor move it backwards."""
    from jobdesk.dispatch.sender import Outgoing

    workers.start(processes=1, threads=2)
    job = await engine.service.create_job("u1", "org1", {"type": "test.record"})
    done = await wait_status(engine.service, job.id, {"completed"})
    token = query(settings.database_url, "SELECT dispatch_token FROM jobs WHERE id = %s", (job.id,))[0][0]
    # The same message again, and one with an older token.
    await engine.sender.send(
        [Outgoing(job.id, "test.record", "test", token), Outgoing(job.id, "test.record", "test", token - 1)]
    )
    await asyncio.sleep(1.5)
    after = await engine.service.get_job(job.id)
    assert after.status is JobStatus.COMPLETED
    assert after.completed_at == done.completed_at
    assert after.attempts == 1
    runs = query(settings.database_url, "SELECT count(*) FROM test_executions WHERE job_id = %s", (job.id,))
    assert runs[0][0] == 1


async def test_progress_is_throttled_but_the_last_write_lands(engine, workers, settings):
    events: list[JobEvent] = []
    engine.hub.subscribe(events.extend)
    workers.start(processes=1, threads=1)
    # 400 progress calls in about 0.4 s, far more than the throttle lets through.
    job = await engine.service.create_job(
        "u", "o", {"type": "test.sleep", "data": {"seconds": 0.4, "steps": 400}}
    )
    done = await wait_status(engine.service, job.id, {"completed"})
    assert (done.progress.current, done.progress.total) == (400, 400)
    assert done.progress.message == "step 400 of 400"
    await asyncio.sleep(0.3)
    updates = [e for e in events if e.job.id == job.id and e.name.value == "job-update"]
    assert 2 <= len(updates) < 100, len(updates)


async def test_failed_and_cancelled_events_reach_the_server_process(engine, workers):
    events: list[JobEvent] = []
    engine.hub.subscribe(events.extend)
    workers.start(processes=1, threads=2)
    failing = await engine.service.create_job("u", "o", {"type": "test.fail", "maxAttempts": 1})
    slow = await engine.service.create_job(
        "u", "o", {"type": "test.sleep", "data": {"seconds": 20, "steps": 200}}
    )
    await wait_status(engine.service, failing.id, {"failed"})
    await wait_status(engine.service, slow.id, {"active"})
    await engine.service.cancel_job(slow.id)
    await wait_status(engine.service, slow.id, {"cancelled"})
    await asyncio.sleep(0.3)
    assert [e.name.value for e in events if e.job.id == failing.id][-1] == "job-failed"
    assert [e.name.value for e in events if e.job.id == slow.id][-1] == "job-cancelled"
    failed_event = next(e for e in events if e.name.value == "job-failed")
    assert failed_event.job.error["message"] == "failure on attempt 1"


async def test_workers_register_and_heartbeat(engine, workers):
    proc = workers.start(processes=1, threads=3)
    listed = await engine.service.workers()
    assert len(listed) == 1
    w = listed[0]
    assert w["threads"] == 3 and "test" in w["queues"] and w["pid"] > 0 and w["host"]
    job = await engine.service.create_job(
        "u", "o", {"type": "test.sleep", "data": {"seconds": 3, "steps": 30}}
    )
    await wait_status(engine.service, job.id, {"active"})
    await asyncio.sleep(1.2)  # a heartbeat or two
    w = (await engine.service.workers())[0]
    assert job.id in w["currentJobs"]
    await engine.service.cancel_job(job.id)
    workers.stop_all()
    assert proc.returncode is not None
    assert await engine.service.workers() == []


async def test_stats_count_by_status_and_type(engine, workers):
    workers.start(processes=1, threads=2)
    ok = [await engine.service.create_job("u", "o", {"type": "test.noop"}) for _ in range(3)]
    bad = await engine.service.create_job("u", "o", {"type": "test.fail", "maxAttempts": 1})
    other_org = await engine.service.create_job("u", "other", {"type": "test.noop"})
    for j in [*ok, bad, other_org]:
        await wait_status(engine.service, j.id, {"completed", "failed"})
    stats = await engine.service.stats("o")
    assert stats["total"] == 4
    assert stats["byStatus"]["completed"] == 3 and stats["byStatus"]["failed"] == 1
    assert stats["byType"]["test.noop"]["completed"] == 3
    assert stats["successRate"] == 0.75 and stats["failureRate"] == 0.25
    assert stats["averageDurationSeconds"] is not None and stats["p95DurationSeconds"] is not None
    assert (await engine.service.stats())["total"] == 5
    page = await engine.service.list_jobs("o", type="test.noop", limit=2)
    assert page.total == 3 and len(page.items) == 2
    assert page.items[0].created_at >= page.items[1].created_at
    assert (await engine.service.list_jobs("o", status="failed")).items[0].id == bad.id
    assert (await engine.service.list_jobs("o", search=bad.id[:8])).total == 1


async def test_cleanup_deletes_only_old_finished_jobs(engine, workers):
    workers.start(processes=1, threads=1)
    old = await engine.service.create_job("u", "o", {"type": "test.noop"})
    await wait_status(engine.service, old.id, {"completed"})
    pending = await engine.service.create_job(
        "u", "o", {"type": "test.noop", "runAt": "2099-01-01T00:00:00Z"}
    )
    async with engine.store.pool.connection() as conn:
        await conn.execute(
            "UPDATE jobs SET completed_at = now() - interval '40 days' WHERE id = %s", (old.id,)
        )
    assert await engine.service.cleanup(30 * 86400) == 1
    assert (await engine.service.get_job(pending.id)).status.value == "pending"


async def test_results_that_are_not_json_do_not_block_other_outcomes(engine, workers):
    """A NaN result would make PostgreSQL refuse the whole batch of outcomes it rides in."""
    workers.start(processes=1, threads=4)
    odd = await engine.service.create_job("u", "o", {"type": "test.echo", "data": {"special": "nan"}})
    plain = [
        await engine.service.create_job("u", "o", {"type": "test.echo", "data": {"value": {"n": i}}})
        for i in range(20)
    ]
    for j in plain:
        done = await wait_status(engine.service, j.id, {"completed"}, timeout=30)
        assert done.result == {"n": plain.index(j)}
    kept = await wait_status(engine.service, odd.id, {"completed"}, timeout=30)
    assert kept.result == "nan"


async def test_a_batch_announces_every_job_it_created(engine):
    """Batch notifications carry up to 200 ids each; every job still gets its event."""
    events: list[JobEvent] = []
    engine.hub.subscribe(events.extend)
    jobs = await engine.service.create_jobs("u", "o", [{"type": "test.noop"} for _ in range(450)])

    async def all_announced() -> bool:
        return {e.job.id for e in events if e.name.value == "job-created"} == {j.id for j in jobs}

    await eventually(all_announced, timeout=10, what="a job-created event for each job")
