"""The built-in job types under real workers: child jobs, cascaded cancels, bulk retries, chunks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jobdesk.core.jobs import JobStatus
from tests.support.asserts import count, eventually, wait_status

pytestmark = pytest.mark.slow


@pytest.fixture
def data_dir() -> Path:
    root = Path(os.environ["JOBDESK_DATA_DIR"])
    (root / "people.csv").write_text("id,name\n1,Ada\n2,Grace\n")
    return root


async def test_workflow_runs_steps_as_children(engine, workers, data_dir: Path) -> None:
    workers.start(processes=1, threads=4)
    job = await engine.service.create_job("u", "o", {"type": "workflow-execution", "data": {"steps": [
        {"id": "jsonl", "type": "data-conversion",
         "data": {"inputPath": "people.csv", "outputPath": "wf/people.jsonl"}},
        {"id": "json", "type": "data-conversion",
         "data": {"inputPath": "wf/people.jsonl", "outputPath": "wf/people.json"}},
    ]}})
    done = await wait_status(engine.service, job.id, {"completed", "failed"}, timeout=60)
    assert done.status is JobStatus.COMPLETED, done.error
    assert [s["status"] for s in done.result["steps"]] == ["completed", "completed"]
    assert (data_dir / "wf/people.json").is_file()
    assert done.progress.percentage == 100
    kids = await count(engine.store.pool, "SELECT count(*) FROM jobs WHERE parent_id = %s", job.id)
    assert kids == 2


async def test_cancelling_a_workflow_cancels_its_running_step(engine, workers, data_dir) -> None:
    workers.start(processes=1, threads=4)
    job = await engine.service.create_job("u", "o", {"type": "workflow-execution", "data": {"steps": [
        {"id": "slow", "type": "test.sleep", "data": {"seconds": 30, "steps": 300}},
    ]}})

    async def step_active() -> bool:
        return await count(
            engine.store.pool,
            "SELECT count(*) FROM jobs WHERE parent_id = %s AND status = 'active'", job.id,
        ) == 1

    await eventually(step_active, 30, "the step to start")
    await engine.service.cancel_job(job.id)
    await wait_status(engine.service, job.id, {"cancelled"}, timeout=10)

    async def step_cancelled() -> bool:
        return await count(
            engine.store.pool,
            "SELECT count(*) FROM jobs WHERE parent_id = %s AND status = 'cancelled'", job.id,
        ) == 1

    await eventually(step_cancelled, 10, "the step to be cancelled")


async def test_a_failed_step_fails_the_workflow(engine, workers, data_dir) -> None:
    workers.start(processes=1, threads=4)
    job = await engine.service.create_job("u", "o", {
        "type": "workflow-execution", "maxAttempts": 1,
        "data": {"steps": [{"id": "boom", "type": "test.fail", "maxAttempts": 1}]},
    })
    done = await wait_status(engine.service, job.id, {"failed", "completed"}, timeout=60)
    assert done.status is JobStatus.FAILED
    assert "step 'boom' (test.fail) failed: failure on attempt 1" in done.error["message"]


async def test_bulk_retry_of_failed_jobs(engine, workers, data_dir) -> None:
    workers.start(processes=1, threads=4)
    failed = [
        await engine.service.create_job("u", "o", {"type": "test.fail", "maxAttempts": 1})
        for _ in range(3)
    ]
    for job in failed:
        await wait_status(engine.service, job.id, {"failed"}, timeout=30)
    other_org = await engine.service.create_job("u", "elsewhere", {"type": "test.fail", "maxAttempts": 1})
    await wait_status(engine.service, other_org.id, {"failed"}, timeout=30)
    bulk = await engine.service.create_job("u", "o", {"type": "bulk-operation", "data": {
        "operation": "retry", "filter": {"type": "test.fail", "status": "failed"}, "batchSize": 2,
    }})
    done = await wait_status(engine.service, bulk.id, {"completed", "failed"}, timeout=30)
    assert done.status is JobStatus.COMPLETED, done.error
    assert (done.result["matched"], done.result["succeeded"], done.result["batches"]) == (3, 3, 2)
    # Another organization's job is out of reach.
    assert (await engine.service.get_job(other_org.id)).attempts == 1
    assert (await engine.service.get_job(other_org.id)).status is JobStatus.FAILED


async def test_document_processing_stores_chunks(engine, workers, data_dir) -> None:
    workers.start(processes=1, threads=2)
    (data_dir / "notes.md").write_text("# Notes\n\n" + "Plain words about queues and workers. " * 80)
    job = await engine.service.create_job("u", "o", {"type": "document-processing", "data": {
        "paths": ["notes.md"], "chunkSize": 300, "chunkOverlap": 30,
    }})
    done = await wait_status(engine.service, job.id, {"completed", "failed"}, timeout=60)
    assert done.status is JobStatus.COMPLETED, done.error
    stored = await count(
        engine.store.pool, "SELECT count(*) FROM document_chunks WHERE job_id = %s", job.id
    )
    assert stored == done.result["chunkCount"] > 5
