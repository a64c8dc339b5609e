"""The job-count rollup (migration 0005) stays exact through everything that changes jobs.

Each check compares the rollup (totals plus deltas not yet folded) with a
count of the jobs table itself, key by key: (organization, type, queue,
status) counts, and the run-time histogram per (organization, hour,
bucket). Against the real PostgreSQL and real worker processes.
"""

from __future__ import annotations

import asyncio
import math
import random
import statistics
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest

from jobdesk.config import Settings
from jobdesk.service.jobs import duration_stats
from tests.support.asserts import eventually, wait_status

pytestmark = pytest.mark.slow

ROLLUP_COUNTS = """
    SELECT organization_id, type, queue, status, sum(n)::bigint FROM (
        SELECT organization_id, type, queue, status, n FROM job_counts
        UNION ALL SELECT organization_id, type, queue, status, n FROM job_count_deltas) c
    GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0"""
EXACT_COUNTS = "SELECT organization_id, type, queue, status, count(*) FROM jobs GROUP BY 1, 2, 3, 4"
ROLLUP_DURATIONS = """
    SELECT organization_id, hour, bucket, sum(n)::bigint, sum(sum_us)::bigint FROM (
        SELECT organization_id, hour, bucket, n, sum_us FROM job_durations
        UNION ALL SELECT organization_id, hour, bucket, n, sum_us FROM job_duration_deltas) d
    WHERE hour >= floor(extract(epoch FROM now()) / 3600)::integer - 47
    GROUP BY 1, 2, 3 HAVING sum(n) <> 0 OR sum(sum_us) <> 0"""
EXACT_DURATIONS = """
    SELECT organization_id, hour, jobs_duration_bucket(us), count(*), sum(us) FROM (
        SELECT organization_id, jobs_duration_hour(status, started_at, completed_at) AS hour,
               jobs_duration_us(started_at, completed_at) AS us
        FROM jobs WHERE status = 'completed') d
    WHERE hour >= floor(extract(epoch FROM now()) / 3600)::integer - 47
    GROUP BY 1, 2, 3"""


def snapshot(url: str, rollup: str, exact: str) -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]:
    """Both sides read in one REPEATABLE READ transaction: the same snapshot."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        with conn.transaction():
            return set(conn.execute(rollup).fetchall()), set(conn.execute(exact).fetchall())


def assert_exact(url: str) -> int:
    """The rollup equals the table; returns how many jobs it counted."""
    rolled, exact = snapshot(url, ROLLUP_COUNTS, EXACT_COUNTS)
    assert rolled == exact, f"rollup {sorted(rolled ^ exact)} differ"
    rolled_d, exact_d = snapshot(url, ROLLUP_DURATIONS, EXACT_DURATIONS)
    assert rolled_d == exact_d, f"durations {sorted(rolled_d ^ exact_d)} differ"
    return sum(r[4] for r in exact)


def execute(url: str, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(sql, params)
        return cur.fetchall() if cur.description else []


def compact(url: str) -> int:
    return int(execute(url, "SELECT jobs_rollup_compact()")[0][0])


def deltas(url: str) -> int:
    sql = "SELECT (SELECT count(*) FROM job_count_deltas) + (SELECT count(*) FROM job_duration_deltas)"
    return int(execute(url, sql)[0][0])


# -- through the engine ---------------------------------------------------------------------


async def test_exact_through_a_jobs_whole_life(engine, workers, clean: Settings):
    """Create, dispatch, run, complete, fail, retry, cancel, clean up and delete, with the
    server's compactor folding deltas meanwhile."""
    url = clean.database_url
    service = engine.service
    assert engine.compactor is not None, "a server compacts the rollup"
    assert assert_exact(url) == 0

    noop = [await service.create_job("u1", "org-a", {"type": "test.noop"}) for _ in range(3)]
    batch = await service.create_jobs("u2", "org-b", [{"type": "test.noop"} for _ in range(20)])
    failing = await service.create_job("u1", "org-a", {"type": "test.fail", "maxAttempts": 2})
    slow = await service.create_job(
        "u1", "org-a", {"type": "test.sleep", "data": {"seconds": 30, "steps": 300}}
    )
    later = await service.create_job("u3", "org-c", {"type": "test.noop", "runAt": "2999-01-01T00:00:00Z"})
    assert assert_exact(url) == 26
    page = await service.list_jobs("org-b")
    assert page.total == 20 and (await service.list_jobs(None)).total == 26

    workers.start(processes=1, threads=4)
    for j in [*noop, *batch]:
        await wait_status(service, j.id, {"completed"})
    await wait_status(service, failing.id, {"failed"}, timeout=60)  # two attempts, a retry between
    await wait_status(service, slow.id, {"active"})
    assert_exact(url)

    await service.cancel_job(later.id)  # pending: cancelled at once
    await service.cancel_job(slow.id)  # active: the worker stops it
    await wait_status(service, slow.id, {"cancelled"}, timeout=30)
    assert_exact(url)

    await service.retry_job(failing.id)
    await wait_status(service, failing.id, {"failed"}, timeout=60)
    workers.stop_all()  # so that the cancelled job, retried, stays pending
    await service.retry_job(later.id)
    stats = await service.stats()
    assert stats["total"] == 26
    assert stats["byStatus"] == {"pending": 1, "active": 0, "completed": 23, "failed": 1, "cancelled": 1}
    assert stats["byType"]["test.noop"]["completed"] == 23 and stats["byType"]["test.noop"]["pending"] == 1
    assert (await service.list_jobs("org-a", status="failed")).total == 1
    assert (await service.list_jobs(None, type="test.noop", status="completed")).total == 23
    assert (await service.list_jobs(None, queue="test")).total == 26
    assert {q["name"]: q["failed"] for q in await service.queues()}["test"] == 1
    assert_exact(url)

    # The server compacts every second: the deltas of all the above are folded in.
    await eventually(
        lambda: asyncio.to_thread(lambda: deltas(url) == 0),
        timeout=10,
        what="the compactor to fold the deltas",
    )
    assert assert_exact(url) == 26

    assert await service.cleanup(0) == 25  # every finished job
    assert assert_exact(url) == 1
    execute(url, "DELETE FROM jobs")
    assert assert_exact(url) == 0
    assert (await service.stats())["total"] == 0


async def test_exact_through_child_cascades_dead_letters_and_truncate(engine, clean: Settings):
    url = clean.database_url
    parent = await engine.service.create_job("u1", "org-a", {"type": "test.noop"})
    execute(
        url,
        "INSERT INTO jobs (type, name, queue, user_id, organization_id, parent_id, status)"
        " SELECT 'test.noop', 'child', 'test', 'u1', 'org-a', %s, s"
        " FROM unnest(ARRAY['pending', 'failed', 'completed']) AS s",
        (uuid.UUID(parent.id),),
    )
    assert assert_exact(url) == 4
    execute(url, "DELETE FROM jobs WHERE id = %s", (uuid.UUID(parent.id),))  # the children go with it
    assert assert_exact(url) == 0

    jobs = await engine.service.create_jobs("u1", "org-a", [{"type": "test.noop"} for _ in range(6)])
    execute(url, "UPDATE jobs SET status = 'failed', completed_at = now() WHERE id = ANY(%s)",
            ([uuid.UUID(j.id) for j in jobs[:4]],))  # fmt: skip
    assert assert_exact(url) == 6
    assert await engine.flow.requeue_dead("org-a", ids=[jobs[0].id]) == 1
    assert await engine.flow.purge_dead("org-a") == 3
    assert assert_exact(url) == 3
    execute(url, "TRUNCATE jobs CASCADE")
    assert assert_exact(url) == 0 and deltas(url) == 0


# -- the histogram ----------------------------------------------------------------------------


def _insert_completed(url: str, org: str, runs_s: list[float], ago_s: float = 60) -> None:
    execute(
        url,
        "INSERT INTO jobs (type, name, queue, user_id, organization_id, status, started_at, completed_at)"
        " SELECT 'test.noop', 'timed', 'test', 'u', %s, 'completed',"
        "        now() - make_interval(secs => %s + r), now() - make_interval(secs => %s)"
        " FROM unnest(%s::float8[]) AS r",
        (org, ago_s, ago_s, runs_s),
    )


async def test_stats_durations_from_the_histogram(engine, clean: Settings):
    url = clean.database_url
    rng = random.Random(7)
    runs = [rng.lognormvariate(0, 1.2) for _ in range(2000)]
    _insert_completed(url, "org-a", runs)
    _insert_completed(url, "org-b", [100.0] * 10)
    _insert_completed(url, "org-a", [500.0] * 5, ago_s=30 * 3600)  # in the histogram, not in the last 24 h
    _insert_completed(url, "org-a", [900.0] * 5, ago_s=3 * 24 * 3600)  # too old for the histogram
    assert_exact(url)

    stats = await engine.service.stats("org-a")
    exact = execute(
        url,
        "SELECT avg(extract(epoch FROM completed_at - started_at)),"
        " percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM completed_at - started_at))"
        " FROM jobs WHERE organization_id = 'org-a' AND completed_at > now() - interval '24 hours'",
    )[0]
    assert stats["averageDurationSeconds"] == pytest.approx(float(exact[0]), abs=1e-4)
    assert stats["p95DurationSeconds"] == pytest.approx(float(exact[1]), rel=0.09)
    assert stats["byStatus"]["completed"] == 2010  # counts cover every job, whatever its age
    assert (await engine.service.stats("org-b"))["averageDurationSeconds"] == pytest.approx(100.0)
    everyone = await engine.service.stats()
    assert everyone["averageDurationSeconds"] == pytest.approx((sum(runs) + 1000) / 2010, abs=1e-4)

    # Changes to jobs too old for the histogram leave it alone; to recent ones, they count.
    execute(url, "DELETE FROM jobs WHERE completed_at < now() - interval '2 days'")
    execute(url, "UPDATE jobs SET status = 'failed' WHERE organization_id = 'org-b'")
    assert_exact(url)
    assert (await engine.service.stats("org-b"))["averageDurationSeconds"] is None
    compact(url)
    assert_exact(url)


def test_percentile_from_buckets_is_within_a_bucket():
    rng = random.Random(3)
    for _ in range(20):
        values = [
            rng.lognormvariate(rng.uniform(-3, 3), rng.uniform(0.1, 2)) for _ in range(rng.randint(1, 3000))
        ]
        buckets: Counter[int] = Counter()
        sums: Counter[int] = Counter()
        for v in values:
            us = max(round(v * 1e6), 1)
            b = math.floor(math.log2(us) * 8)
            buckets[b] += 1
            sums[b] += us
        avg, p95 = duration_stats([(b, n, sums[b]) for b, n in buckets.items()])
        ordered = sorted(values)
        rank = 0.95 * (len(ordered) - 1)
        lo = int(rank)
        exact = ordered[lo] + (ordered[min(lo + 1, len(ordered) - 1)] - ordered[lo]) * (rank - lo)
        assert avg == pytest.approx(statistics.fmean(values), rel=1e-5)
        assert p95 == pytest.approx(exact, rel=0.095)
    assert duration_stats([]) == (None, None)


# -- concurrency and compaction ------------------------------------------------------------------


def _some(where: str) -> str:
    """Up to n random jobs matching `where`, locked, skipping any another writer holds."""
    return f"(SELECT id FROM jobs WHERE {where} ORDER BY random() LIMIT %(n)s FOR UPDATE SKIP LOCKED)"


TRANSITIONS = [
    "UPDATE jobs SET status = 'active', started_at = now() WHERE id IN " + _some("status = 'pending'"),
    "UPDATE jobs SET status = 'completed', completed_at = now() WHERE id IN " + _some("status = 'active'"),
    "UPDATE jobs SET status = 'failed', completed_at = now() WHERE id IN " + _some("status = 'active'"),
    "UPDATE jobs SET status = 'pending', started_at = NULL, completed_at = NULL WHERE id IN "
    + _some("status IN ('failed', 'cancelled')"),
    "UPDATE jobs SET status = 'cancelled', completed_at = now() WHERE id IN " + _some("status = 'pending'"),
    "UPDATE jobs SET progress_current = progress_current + 1, dispatched_at = now() WHERE id IN "
    + _some("status = 'active'"),
    "DELETE FROM jobs WHERE id IN " + _some("status = 'completed'"),
    "INSERT INTO jobs (type, name, queue, user_id, organization_id)"
    " SELECT t, 'w', t, 'u', 'org-' || (g %% 3) FROM generate_series(1, %(n)s) g,"
    " (VALUES ('test.noop'), ('test.fail')) v(t)",
]


def _writer(url: str, seed: int, until: float, stats: Counter[str]) -> None:
    import time

    rng = random.Random(seed)
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < until:
            sql = rng.choice(TRANSITIONS)
            try:
                if rng.random() < 0.2:  # several statements in one transaction, some rolled back
                    with conn.transaction() as tx:
                        conn.execute(sql, {"n": rng.randint(1, 20)})
                        conn.execute(rng.choice(TRANSITIONS), {"n": rng.randint(1, 20)})
                        if rng.random() < 0.5:
                            stats["rolled back"] += 1
                            raise psycopg.Rollback(tx)
                else:
                    conn.execute(sql, {"n": rng.randint(1, 50)})
                stats["statements"] += 1
            except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure):
                stats["deadlocks"] += 1


def _compactor(url: str, until: float, stats: Counter[str]) -> None:
    import time

    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < until:
            folded = conn.execute("SELECT jobs_rollup_compact()").fetchone()[0]
            stats["compactions"] += 1
            stats["folded"] += max(folded, 0)
            time.sleep(0.02)


async def test_exact_under_concurrent_writers_and_compaction(clean: Settings):
    """Eight connections change random jobs at once (in statements and transactions, some
    rolled back) while two compactors fold deltas: the rollup ends exact."""
    import time

    url = clean.database_url
    execute(url, TRANSITIONS[-1], {"n": 500})
    stats: Counter[str] = Counter()
    until = time.monotonic() + 8
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=10) as pool:  # one thread each, all at once
        runs = [loop.run_in_executor(pool, _writer, url, seed, until, stats) for seed in range(8)]
        runs += [loop.run_in_executor(pool, _compactor, url, until, stats) for _ in range(2)]
        await asyncio.gather(*runs)
    assert stats["statements"] > 200 and stats["folded"] > 100, stats
    n = assert_exact(url)
    assert n > 0
    compact(url)
    assert deltas(url) == 0
    assert assert_exact(url) == n


async def test_compaction_preserves_totals(clean: Settings):
    url = clean.database_url
    execute(url, TRANSITIONS[-1], {"n": 300})
    rng = random.Random(11)
    for _ in range(60):
        execute(url, rng.choice(TRANSITIONS), {"n": rng.randint(1, 40)})
    before = snapshot(url, ROLLUP_COUNTS, EXACT_COUNTS)
    durations_before = snapshot(url, ROLLUP_DURATIONS, EXACT_DURATIONS)
    assert deltas(url) > 0
    assert compact(url) > 0
    assert deltas(url) == 0
    assert snapshot(url, ROLLUP_COUNTS, EXACT_COUNTS) == before
    assert snapshot(url, ROLLUP_DURATIONS, EXACT_DURATIONS) == durations_before
    assert before[0] == before[1]
    assert compact(url) == 0  # nothing left to fold
    # Zero rows do not linger: a key whose jobs are all gone has no row.
    execute(url, "DELETE FROM jobs WHERE organization_id = 'org-0'")
    compact(url)
    assert not execute(url, "SELECT * FROM job_counts WHERE organization_id = 'org-0' OR n = 0")
    assert_exact(url)


async def test_one_compactor_at_a_time(clean: Settings):
    url = clean.database_url
    execute(url, TRANSITIONS[-1], {"n": 10})
    with psycopg.connect(url) as holder:
        assert holder.execute("SELECT jobs_rollup_compact()").fetchone()[0] > 0  # lock held until commit
        assert compact(url) == -1  # another connection skips
    assert compact(url) == 0


def test_rebuild_recounts_from_the_table(clean: Settings):
    url = clean.database_url
    execute(url, TRANSITIONS[-1], {"n": 50})
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")  # triggers off: the rollup drifts
        conn.execute("DELETE FROM jobs WHERE organization_id = 'org-1'")
    with pytest.raises(AssertionError):
        assert_exact(url)
    execute(url, "SELECT jobs_rollup_rebuild()")
    assert_exact(url)
