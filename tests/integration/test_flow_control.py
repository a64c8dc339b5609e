"""Dependencies, batches, dead letters, rate limits, idempotency and 'why waiting'."""

from __future__ import annotations

import asyncio

import pytest

from jobdesk.core.errors import NotFound
from tests.support.asserts import count, eventually, wait_status

pytestmark = pytest.mark.slow


async def test_dependent_waits_for_every_parent(engine, workers):
    workers.start(processes=1, threads=4)
    a = await engine.service.create_job(
        "u", "o", {"type": "test.sleep", "data": {"seconds": 0.6, "steps": 3}}
    )
    b = await engine.service.create_job(
        "u", "o", {"type": "test.sleep", "data": {"seconds": 0.2, "steps": 1}}
    )
    child = await engine.service.create_job("u", "o", {"type": "test.noop", "dependsOn": [a.id, b.id]})
    why = await engine.flow.explain(child.id, "o")
    assert any(r["kind"] == "dependency" for r in why["reasons"])
    done = await wait_status(engine.service, child.id, {"completed"})
    parents = [await engine.service.get_job(i) for i in (a.id, b.id)]
    assert all(done.started_at >= p.completed_at for p in parents)


async def test_failed_parent_fails_or_cancels_dependents_by_their_policy(engine, workers):
    workers.start(processes=1, threads=2)
    parent = await engine.service.create_job("u", "o", {"type": "test.fail", "maxAttempts": 1})
    fails = await engine.service.create_job("u", "o", {"type": "test.noop", "dependsOn": [parent.id]})
    cancels = await engine.service.create_job(
        "u", "o", {"type": "test.noop", "dependsOn": [parent.id], "dependencyPolicy": "cancel"}
    )
    grandchild = await engine.service.create_job("u", "o", {"type": "test.noop", "dependsOn": [fails.id]})
    assert (await wait_status(engine.service, fails.id, {"failed"})).error["message"].startswith("dependency")
    await wait_status(engine.service, cancels.id, {"cancelled"})
    await wait_status(engine.service, grandchild.id, {"failed"})
    assert await count(engine.store.pool, "SELECT count(*) FROM jobs WHERE started_at IS NOT NULL") == 1


async def test_dependencies_must_exist_in_the_same_organization(engine):
    other = await engine.service.create_job("u", "other-org", {"type": "test.noop"})
    from jobdesk.core.errors import InvalidInput

    with pytest.raises(InvalidInput, match="unknown jobs"):
        await engine.service.create_job("u", "o", {"type": "test.noop", "dependsOn": [other.id]})


async def test_a_batch_checks_every_jobs_dependencies_and_names_the_bad_one(engine):
    from jobdesk.core.errors import InvalidInput

    mine = await engine.service.create_job("u", "o", {"type": "test.noop"})
    theirs = await engine.service.create_job("u", "other-org", {"type": "test.noop"})
    before = await count(engine.store.pool, "SELECT count(*) FROM jobs")
    specs = [
        {"type": "test.noop", "dependsOn": [mine.id]},
        {"type": "test.noop"},
        {"type": "test.noop", "dependsOn": [mine.id, theirs.id]},
    ]
    with pytest.raises(InvalidInput, match=f"^job 2: dependsOn names unknown jobs: {theirs.id}$"):
        await engine.service.create_jobs("u", "o", specs)
    assert await count(engine.store.pool, "SELECT count(*) FROM jobs") == before
    specs[2]["dependsOn"] = [mine.id]
    created = await engine.service.create_jobs("u", "o", specs)
    assert [j.depends_on for j in created] == [[mine.id], [], [mine.id]]


async def test_batch_completes_once_with_aggregate_progress(engine, workers):
    seen: list[tuple[str, str]] = []
    engine.hub.on_other(lambda event, subject: seen.append((event, subject)))
    jobs = await engine.service.create_jobs("u", "o", [{"type": "test.noop"}] * 50)
    batch_id = jobs[0].batch_id
    summary = await engine.flow.get_batch(batch_id, "o")
    assert summary["total"] == 50 and summary["byStatus"]["pending"] == 50 and summary["percentage"] == 0
    workers.start(processes=1, threads=4)
    await eventually(lambda: _batch_done(engine, batch_id), timeout=30, what="the batch to complete")
    await asyncio.sleep(2.5)  # more reconcile rounds: still one event
    assert seen.count(("batch-completed", batch_id)) == 1
    final = await engine.flow.get_batch(batch_id, "o")
    assert final["byStatus"]["completed"] == 50 and final["percentage"] == 100.0
    with pytest.raises(NotFound):
        await engine.flow.get_batch(batch_id, "another-org")


async def _batch_done(engine, batch_id):
    return (await engine.flow.get_batch(batch_id))["completedAt"]


async def test_dead_letters_list_requeue_and_purge(engine, workers):
    workers.start(processes=1, threads=2)
    bad = [
        await engine.service.create_job("u", "o", {"type": "test.fail", "maxAttempts": 1}) for _ in range(4)
    ]
    for j in bad:
        await wait_status(engine.service, j.id, {"failed"})
    dead = await engine.flow.dead_letters("o")
    assert dead.total == 4 and all(j.error["message"] for j in dead.items)
    assert await engine.flow.requeue_dead("o", ids=[bad[0].id]) == 1
    await eventually(lambda: _attempts_of(engine, bad[0].id), what="the requeued job to run again")
    assert await engine.flow.purge_dead("other-org") == 0
    await wait_status(engine.service, bad[0].id, {"failed"})
    assert await engine.flow.purge_dead("o") == 4
    assert (await engine.flow.dead_letters("o")).total == 0


async def _attempts_of(engine, job_id):
    job = await engine.service.get_job(job_id)
    return job.status.value == "failed" and len(job.attempt_log) == 2


async def test_concurrency_limit_per_type_holds_and_is_explained(engine, workers):
    await engine.flow.set_rate_limit("type", "test.sleep", max_concurrent=2)
    workers.start(processes=1, threads=6)
    jobs = [
        await engine.service.create_job(
            "u", "o", {"type": "test.sleep", "data": {"seconds": 0.4, "steps": 2}}
        )
        for _ in range(8)
    ]
    await eventually(lambda: _any_active(engine), what="a job to start")
    why = await engine.flow.explain(jobs[-1].id, "o")
    assert any(r["kind"] == "rate-limit" for r in why["reasons"]), why
    queues = await engine.service.queues("o")
    assert "concurrent" in (next(q for q in queues if q["name"] == "test")["heldBack"] or "")
    for j in jobs:
        await wait_status(engine.service, j.id, {"completed"})
    async with engine.store.pool.connection() as conn:
        rows = await (
            await conn.execute("SELECT started_at, completed_at FROM jobs WHERE type = 'test.sleep'")
        ).fetchall()
    most = max(sum(1 for r in rows if r["started_at"] <= t["started_at"] < r["completed_at"]) for t in rows)
    print(f"\nmost test.sleep jobs running at once under a limit of 2: {most}")
    assert most <= 2


async def _any_active(engine):
    return await count(engine.store.pool, "SELECT count(*) FROM jobs WHERE status = 'active'")


async def test_rate_limit_per_organization_spaces_dispatches(engine, workers):
    await engine.flow.set_rate_limit("organization", "slow-org", per_second=5)
    workers.start(processes=1, threads=4)
    jobs = [await engine.service.create_job("u", "slow-org", {"type": "test.noop"}) for _ in range(15)]
    fast = [await engine.service.create_job("u", "fast-org", {"type": "test.noop"}) for _ in range(15)]
    for j in fast:
        await wait_status(engine.service, j.id, {"completed"})
    for j in jobs:
        await wait_status(engine.service, j.id, {"completed"}, timeout=30)
    started = sorted([(await engine.service.get_job(j.id)).started_at for j in jobs])
    span = (started[-1] - started[0]).total_seconds()
    print(f"\n15 jobs at 5/s (burst 5) started over {span:.2f}s")
    assert span >= 1.6  # 5 at once, then 10 more at 5 per second


async def test_idempotency_key_survives_a_race_of_ten(engine):
    spec = {"type": "test.noop", "idempotencyKey": "order-42"}
    results = await asyncio.gather(*[engine.service.create_job("u", "o", spec) for _ in range(10)])
    assert len({j.id for j in results}) == 1
    assert await count(engine.store.pool, "SELECT count(*) FROM jobs") == 1
    other_org = await engine.service.create_job("u", "o2", spec)
    assert other_org.id != results[0].id
    async with engine.store.pool.connection() as conn:
        await conn.execute(
            "UPDATE jobs SET created_at = now() - interval '25 hours' WHERE id = %s", (results[0].id,)
        )
    fresh = await engine.service.create_job("u", "o", spec)
    assert fresh.id != results[0].id


async def test_explain_names_backoff_pause_and_priority(engine, workers):
    later = await engine.service.create_job("u", "o", {"type": "test.noop", "runAt": "2099-01-01T00:00:00Z"})
    why = await engine.flow.explain(later.id, "o")
    kinds = {r["kind"] for r in why["reasons"]}
    assert {"scheduled", "no-workers"} <= kinds
    await engine.service.set_queue_paused("test", True)
    first = await engine.service.create_job("u", "o", {"type": "test.noop", "priority": 5})
    second = await engine.service.create_job("u", "o", {"type": "test.noop"})
    why = await engine.flow.explain(second.id, "o")
    kinds = {r["kind"]: r for r in why["reasons"]}
    assert "paused" in kinds and kinds["priority"]["ahead"] == 1
    await engine.service.set_queue_paused("test", False)
    workers.start(processes=1, threads=1)
    await wait_status(engine.service, second.id, {"completed"})
    assert (await engine.flow.explain(first.id, "o"))["waiting"] is False
