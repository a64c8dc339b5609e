"""Cron schedules against the real PostgreSQL: validation, the service, missed ticks, two servers."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from jobdesk.core.errors import InvalidInput
from jobdesk.core.registry import registry
from jobdesk.service.cron import ALL_MAX, Cron
from jobdesk.service.scheduler import Scheduler, tick_key
from jobdesk.service.schedules import (
    ScheduleExists,
    ScheduleNotFound,
    SchedulesService,
    validate_schedule,
)
from tests.support.asserts import eventually, wait_status

GOOD = {"name": "every-5", "cron": "*/5 * * * *", "job": {"type": "test.noop"}}


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"cron": "61 * * * *"}, "cron: '61 * * * *' is not a valid cron expression"),
        ({"cron": "* * *"}, "cron: '* * *' has 3 fields"),
        ({"cron": "0 0 31 2 *"}, "cron:"),
        ({"timezone": "Mars/Olympus"}, "timezone: unknown time zone 'Mars/Olympus'"),
        ({"job": {"type": "no.such.type"}}, "job.type: unknown job type 'no.such.type'"),
        (
            {"job": {"type": "test.sleep", "data": {"seconds": "soon"}}},
            "job.data: invalid data for 'test.sleep'",
        ),
        ({"job": {"type": "test.noop", "priority": 5000}}, "job.priority:"),
        (
            {"job": {"type": "test.noop", "runAt": "2030-01-01T00:00:00Z"}},
            "job.runAt cannot be set on a schedule",
        ),
        ({"job": {"type": "test.noop", "status": "completed"}}, "job.status cannot be set"),
        (
            {"job": {"type": "test.noop", "notify": [{"channel": "email", "target": "nobody"}]}},
            "job.notify.0: Value error, 'nobody' is not an email address",
        ),
        ({"missedPolicy": "later"}, "missedPolicy:"),
        ({"name": ""}, "name:"),
        ({"job": None}, "job:"),
        ({"color": "red"}, "color: Extra inputs are not permitted"),
    ],
)
def test_a_bad_schedule_is_rejected_naming_the_field(settings, change, words):
    with pytest.raises(InvalidInput) as caught:
        validate_schedule({**GOOD, **change}, "u1", "org1", registry)
    assert words in caught.value.message


def test_a_good_schedule_is_normalized(settings):
    new = validate_schedule(
        {**GOOD, "job": {"type": "test.sleep", "max_attempts": 2, "data": {"seconds": 1}}},
        "u1",
        "o",
        registry,
    )
    assert new.job == {
        "type": "test.sleep",
        "data": {"seconds": 1.0, "steps": 1},
        "priority": 0,
        "maxAttempts": 2,
    }
    assert new.spec.missed_policy == "coalesce" and new.spec.timezone == "UTC"


async def test_add_list_get_enable_remove(engine, tables):
    svc = SchedulesService(engine.store, registry, tables)
    added = await svc.add_schedule("u1", "org1", {**GOOD, "timezone": "Europe/Paris", "missedPolicy": "skip"})
    assert added.next_run_at > datetime.now(UTC) and added.next_run_at.minute % 5 == 0
    assert added.to_api()["missedPolicy"] == "skip" and added.to_api()["nextRunAt"]
    with pytest.raises(ScheduleExists):
        await svc.add_schedule("u2", "org1", GOOD)
    other = await svc.add_schedule("u2", "org2", GOOD)  # names are per organization

    assert [s.id for s in await svc.list_schedules("org1")] == [added.id]
    assert len(await svc.list_schedules()) == 2
    assert (await svc.get_schedule("every-5", "org1")).id == added.id
    assert (await svc.get_schedule(added.id)).id == added.id
    with pytest.raises(ScheduleNotFound):
        await svc.get_schedule(added.id, "org2")  # another organization's
    with pytest.raises(InvalidInput, match="several organizations"):
        await svc.get_schedule("every-5")

    off = await svc.set_schedule_enabled("every-5", False, "org1")
    assert not off.enabled and off.to_api()["nextRunAt"] is None
    on = await svc.set_schedule_enabled(added.id, True, "org1")
    assert on.enabled and on.next_run_at > datetime.now(UTC)

    assert (await svc.remove_schedule(other.id, "org2")).name == "every-5"
    with pytest.raises(ScheduleNotFound):
        await svc.remove_schedule(other.id, "org2")
    assert [s.id for s in await svc.list_schedules()] == [added.id]


async def _set_next_run(pool, schedule_id: str, when: datetime) -> None:
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE schedules SET next_run_at = %s WHERE id = %s", (when, uuid.UUID(schedule_id))
        )


async def _fired(pool, schedule_id: str) -> list[dict]:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT id, idempotency_key, run_at, created_at FROM jobs"
            " WHERE idempotency_key LIKE %s ORDER BY run_at",
            (f"schedule:{schedule_id}:%",),
        )
        return await cur.fetchall()


def _daily_due_minutes_ago(minutes: int) -> tuple[str, datetime]:
    """A daily cron whose latest tick was `minutes` ago (UTC), and that tick."""
    tick = (datetime.now(UTC) - timedelta(minutes=minutes)).replace(second=0, microsecond=0)
    return f"{tick.minute} {tick.hour} * * *", tick


@pytest.mark.parametrize(("policy", "runs"), [("coalesce", 1), ("skip", 0), ("all", 4)])
async def test_missed_ticks_follow_the_policy(engine, tables, policy, runs):
    """Down for three days and a bit: four daily ticks passed, the latest five minutes ago."""
    cron, latest = _daily_due_minutes_ago(5)
    svc = SchedulesService(engine.store, registry, tables)
    s = await svc.add_schedule("u1", "org1", {**GOOD, "cron": cron, "missedPolicy": policy})
    await _set_next_run(engine.pool, s.id, latest - timedelta(days=3))

    scheduler = Scheduler(engine.store, registry, tables)
    assert await scheduler.run_once() == runs
    jobs = await _fired(engine.pool, s.id)
    assert len(jobs) == runs
    expected = {"coalesce": [latest], "skip": [], "all": [latest - timedelta(days=d) for d in (3, 2, 1, 0)]}
    assert [j["run_at"] for j in jobs] == expected[policy]
    assert [j["idempotency_key"] for j in jobs] == [tick_key(s.id, t) for t in expected[policy]]

    after = await svc.get_schedule(s.id)
    assert after.next_run_at == latest + timedelta(days=1)  # resumes at the next tick
    assert after.last_run_at == (latest if runs else None)
    assert scheduler.stats.dropped == 4 - runs
    assert await scheduler.run_once() == 0  # nothing fires twice


async def test_skip_still_runs_a_tick_that_is_only_a_little_late(engine, tables):
    svc = SchedulesService(engine.store, registry, tables)
    s = await svc.add_schedule("u1", "org1", {**GOOD, "cron": "*/5 * * * * *", "missedPolicy": "skip"})
    latest = Cron("*/5 * * * * *").latest(datetime.now(UTC) - timedelta(seconds=10), datetime.now(UTC), 1)[0]
    await _set_next_run(engine.pool, s.id, latest)
    assert await Scheduler(engine.store, registry, tables).run_once() == 1


async def test_all_runs_at_most_the_latest_hundred_missed_ticks(engine, tables):
    svc = SchedulesService(engine.store, registry, tables)
    s = await svc.add_schedule("u1", "org1", {**GOOD, "cron": "* * * * * *", "missedPolicy": "all"})
    await _set_next_run(engine.pool, s.id, datetime.now(UTC) - timedelta(hours=1))
    scheduler = Scheduler(engine.store, registry, tables)
    assert await scheduler.run_once() == ALL_MAX
    ticks = [j["run_at"] for j in await _fired(engine.pool, s.id)]
    assert len(ticks) == ALL_MAX and len(set(ticks)) == ALL_MAX
    assert all(b - a == timedelta(seconds=1) for a, b in itertools.pairwise(ticks))
    assert ticks[-1] <= datetime.now(UTC) + timedelta(seconds=scheduler.interval_s)
    assert scheduler.stats.dropped >= 1


async def test_two_servers_fire_each_tick_exactly_once(engine, tables, second_store):
    """Two schedulers on two pools race over the same every-second schedules for a few seconds."""
    svc = SchedulesService(engine.store, registry, tables)
    schedules = [
        await svc.add_schedule("u1", "org1", {**GOOD, "name": f"race-{i}", "cron": cron})
        for i, cron in enumerate(["* * * * * *", "* * * * * *", "* * * * * *", "*/2 * * * * *"])
    ]
    # Short rounds for both, so that they collide as often as they can.
    a = Scheduler(engine.store, registry, tables, interval_s=0.02)
    b = Scheduler(second_store, registry, tables, interval_s=0.02)
    a.start()
    b.start()
    await asyncio.sleep(4.2)
    await a.stop()
    await b.stop()

    total = 0
    for s in schedules:
        jobs = await _fired(engine.pool, s.id)
        ticks = [j["run_at"] for j in jobs]
        step = timedelta(seconds=2 if s.cron.startswith("*/2") else 1)
        assert len(ticks) >= (3 if step.seconds == 1 else 1), s.name
        assert len(set(ticks)) == len(ticks), f"{s.name}: a tick fired twice"
        assert all(y - x == step for x, y in itertools.pairwise(ticks)), f"{s.name}: a tick was skipped"
        # Created ahead of (or at) the tick, at most a round plus a little late.
        assert all(j["created_at"] <= j["run_at"] + timedelta(seconds=0.5) for j in jobs)
        total += len(jobs)
    assert a.stats.fired + b.stats.fired == total
    # The row lock did the work: neither server ever had to fall back on the idempotency key.
    assert a.stats.duplicates == b.stats.duplicates == 0


async def test_the_idempotency_key_stops_a_tick_moved_back(engine, tables):
    svc = SchedulesService(engine.store, registry, tables)
    cron, latest = _daily_due_minutes_ago(2)
    s = await svc.add_schedule("u1", "org1", {**GOOD, "cron": cron})
    scheduler = Scheduler(engine.store, registry, tables)
    await _set_next_run(engine.pool, s.id, latest)
    assert await scheduler.run_once() == 1
    await _set_next_run(engine.pool, s.id, latest)  # as if a stale writer put it back
    assert await scheduler.run_once() == 0
    assert scheduler.stats.duplicates == 1
    assert len(await _fired(engine.pool, s.id)) == 1
    assert (await svc.get_schedule(s.id)).next_run_at == latest + timedelta(days=1)


async def test_a_disabled_schedule_misses_nothing(engine, tables):
    svc = SchedulesService(engine.store, registry, tables)
    s = await svc.add_schedule(
        "u1", "org1", {**GOOD, "cron": "* * * * * *", "missedPolicy": "all", "enabled": False}
    )
    await _set_next_run(engine.pool, s.id, datetime.now(UTC) - timedelta(minutes=5))
    scheduler = Scheduler(engine.store, registry, tables)
    assert await scheduler.run_once() == 0
    on = await svc.set_schedule_enabled(s.id, True)
    assert on.next_run_at > datetime.now(UTC) - timedelta(seconds=1)
    assert await scheduler.run_once() <= 1  # at most the tick now, never the five minutes passed


async def test_a_schedule_whose_job_no_longer_validates_records_why(engine, tables):
    svc = SchedulesService(engine.store, registry, tables)
    cron, latest = _daily_due_minutes_ago(1)
    s = await svc.add_schedule("u1", "org1", {**GOOD, "cron": cron})
    async with engine.pool.connection() as conn:  # as if the type's module were no longer loaded
        await conn.execute(
            'UPDATE schedules SET job = \'{"type": "gone.type"}\', next_run_at = %s WHERE id = %s',
            (latest, uuid.UUID(s.id)),
        )
    scheduler = Scheduler(engine.store, registry, tables)
    assert await scheduler.run_once() == 0
    after = await svc.get_schedule(s.id)
    assert "unknown job type 'gone.type'" in after.last_error
    assert after.next_run_at == latest + timedelta(days=1) and after.enabled
    assert scheduler.stats.errors == 1


@pytest.mark.slow
async def test_scheduled_jobs_run_on_workers(engine, tables, workers):
    svc = SchedulesService(engine.store, registry, tables)
    s = await svc.add_schedule(
        "u1", "org1", {"name": "tick", "cron": "* * * * * *", "job": {"type": "test.noop", "name": "tock"}}
    )
    workers.start(processes=1, threads=2)
    scheduler = Scheduler(engine.store, registry, tables)
    scheduler.start()
    try:

        async def two_done():
            jobs = await _fired(engine.pool, s.id)
            return jobs if len(jobs) >= 2 else None

        jobs = await eventually(two_done, 10, "two ticks")
    finally:
        await scheduler.stop()
    for j in jobs[:2]:
        done = await wait_status(engine.service, str(j["id"]), {"completed"})
        assert done.name == "tock" and done.user_id == "u1" and done.organization_id == "org1"
        assert done.result == {"ok": True}
    last = await svc.get_schedule(s.id)
    assert last.last_job_id is not None and last.last_run_at is not None
