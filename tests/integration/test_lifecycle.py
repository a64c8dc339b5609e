"""A job's life against the real PostgreSQL, Redis and worker processes."""

from __future__ import annotations

import asyncio

import pytest

from jobdesk.core.events import JobEvent
from jobdesk.core.jobs import JobStatus
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
        await engine.service.create_job("u1", "org1", {"type": "test.sleep", "data": {"seconds": 0.2, "steps": 4}})
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
    await engine.sender.send([Outgoing(job.id, "test.record", "test", token), Outgoing(job.id, "test.record", "test", token - 1)])
    await asyncio.sleep(1.5)
    after = await engine.service.get_job(job.id)
    assert after.status is JobStatus.COMPLETED
    assert after.completed_at == done.completed_at
    assert after.attempts == 1
    runs = query(settings.database_url, "SELECT count(*) FROM test_executions WHERE job_id = %s", (job.id,))
    assert runs[0][0] == 1
