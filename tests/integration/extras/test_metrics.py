"""/metrics: the Prometheus text parses and holds the families (no workers here: see test_metrics_jobs)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from prometheus_client.parser import text_string_to_metric_families

from jobdesk.service.extras import start_extras
from jobdesk.service.metrics import CONTENT_TYPE, Metrics
from tests.support.asserts import eventually

FAMILIES = {
    "jobdesk_jobs",
    "jobdesk_queue_depth",
    "jobdesk_queue_scheduled",
    "jobdesk_queue_active",
    "jobdesk_job_duration_seconds",
    "jobdesk_workers",
    "jobdesk_worker_threads",
    "jobdesk_worker_busy_threads",
    "jobdesk_dispatch_lag_seconds",
}


def parse(text: bytes) -> dict[str, list]:
    return {f.name: f.samples for f in text_string_to_metric_families(text.decode())}


def value(families, name: str, **labels) -> float:
    matches = [s.value for s in families[name] if all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(matches) == 1, (name, labels, families[name])
    return matches[0]


async def test_dispatch_lag_counts_runnable_jobs_only(engine, tables):
    """No workers: runnable jobs wait; a paused queue's and a future job's waiting is not lag."""
    metrics = Metrics(engine.store, engine.settings, refresh_s=0.0)
    assert value(parse(await metrics.render()), "jobdesk_dispatch_lag_seconds") == 0
    await engine.service.create_job(
        "u1", "org1", {"type": "test.noop", "runAt": (datetime.now(UTC) + timedelta(minutes=5)).isoformat()}
    )
    assert value(parse(await metrics.render()), "jobdesk_dispatch_lag_seconds") == 0
    async with engine.pool.connection() as conn:  # as if created a minute ago, in a paused queue
        await engine.service.set_queue_paused("paused-q", True)
        await conn.execute(
            "INSERT INTO jobs (type, name, queue, user_id, organization_id, created_at, run_at) VALUES"
            " ('test.noop', 'x', 'paused-q', 'u', 'o', now() - interval '60 s', now() - interval '60 s')"
        )
    assert value(parse(await metrics.render()), "jobdesk_dispatch_lag_seconds") == 0
    await engine.service.create_job("u1", "org1", {"type": "test.noop"})
    await asyncio.sleep(1.1)
    families = parse(await metrics.render())
    assert 1.0 <= value(families, "jobdesk_dispatch_lag_seconds") < 30
    assert value(families, "jobdesk_queue_depth", queue="test") == 1
    assert value(families, "jobdesk_workers") == 0


async def test_scrapes_share_one_refresh_and_a_failure_keeps_the_last_values(engine, tables):
    metrics = Metrics(engine.store, engine.settings, refresh_s=60.0)
    await engine.service.create_job("u1", "org1", {"type": "test.noop"})
    first = await asyncio.gather(*(metrics.render() for _ in range(5)))
    taken = metrics.snapshot.taken_at
    await engine.service.create_job("u1", "org1", {"type": "test.noop"})
    assert await metrics.render() == first[0] and metrics.snapshot.taken_at == taken  # cached
    assert value(parse(first[0]), "jobdesk_jobs", status="pending", type="test.noop") == 1

    class Broken:
        def connection(self):
            raise RuntimeError("database gone")

    metrics.store = type("S", (), {"pool": Broken()})()
    await metrics.refresh(force=True)
    families = parse(await metrics.render())
    assert value(families, "jobdesk_jobs", status="pending", type="test.noop") == 1
    assert value(families, "jobdesk_metrics_refresh_failures") == 1


async def test_start_extras_wires_everything_and_stops(engine, tables):
    extras = await start_extras(engine)
    try:
        assert extras.scheduler is not None and extras.notifier is not None
        await extras.schedules.add_schedule(
            "u1", "org1", {"name": "s", "cron": "* * * * * *", "job": {"type": "test.noop"}}
        )

        async def fired():
            return extras.scheduler.stats.fired >= 1

        await eventually(fired, 5, "the scheduler to fire a tick")
        families = parse(await extras.metrics.render())
        assert set(families) >= FAMILIES
        assert value(families, "jobdesk_schedule_runs") >= 1
        assert "jobdesk_notifications" in families
        assert CONTENT_TYPE.startswith("text/plain")
    finally:
        await extras.stop()
