"""4. Priority latency: a high-priority job behind 10,000 queued jobs, every worker busy.

2 x 8 workers run a backlog of priority-0 jobs of one kind; once they have
been at it for a few seconds (the dispatcher sizes its window from recent
job durations), the backlog is topped up to 10,000 pending jobs and one job
of the same type and queue with priority 10 is created. Its wait is
`started_at - created_at`, both stamped by PostgreSQL. "Overtakers" are the
jobs that started after it was created and before it started: what was
already in flight (dispatched to Redis) when it arrived. Repeated for
backlogs of jobs that sleep 500 ms and 50 ms and of no-op jobs, then once
more for 500 ms jobs right after the no-op ones (see `kinds` in run()).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import psycopg

from benchmarks.env import BenchEnv
from benchmarks.measure import summary
from benchmarks.report import Result
from jobdesk.service.engine import Engine

NAME = "priority"
TITLE = "High-priority job behind 10,000 queued jobs"
PROCESSES, THREADS = 2, 8
USER = ORG = "bench"
URGENT = 10


async def pending(engine: Engine) -> int:
    async with engine.pool.connection() as conn:
        row = await (await conn.execute("SELECT count(*) AS n FROM jobs WHERE status = 'pending'")).fetchone()
    return int(row["n"]) if row else 0


async def top_up(engine: Engine, spec: dict[str, Any], backlog: int) -> int:
    missing = backlog - await pending(engine)
    while missing > 0:
        chunk = min(missing, 10_000)
        await engine.service.create_jobs(USER, ORG, [dict(spec) for _ in range(chunk)])
        missing -= chunk
    return await pending(engine)


async def trial(engine: Engine, spec: dict[str, Any], backlog: int, timeout: float = 60) -> dict[str, Any]:
    queued = await top_up(engine, spec, backlog)
    job = await engine.service.create_job(USER, ORG, {**spec, "priority": URGENT, "name": "urgent"})
    deadline = time.monotonic() + timeout
    dispatched_ms: float | None = None
    while True:
        async with engine.pool.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT created_at, started_at, extract(epoch FROM started_at - created_at) AS wait_s,"
                    " extract(epoch FROM dispatched_at - created_at) AS dispatch_s"
                    " FROM jobs WHERE id = %s",
                    (job.id,),
                )
            ).fetchone()
        if row and row["dispatch_s"] is not None and dispatched_ms is None:
            # When the dispatcher sent it: before, the dispatcher's wait; after, Redis's and a worker's.
            dispatched_ms = round(float(row["dispatch_s"]) * 1000, 1)
        if row and row["started_at"] is not None:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"the urgent job did not start within {timeout:.0f} s")
        await asyncio.sleep(0.005)
    assert row is not None
    async with engine.pool.connection() as conn:
        over = await (
            await conn.execute(
                "SELECT count(*) AS n FROM jobs WHERE started_at > %s AND started_at < %s AND id <> %s",
                (row["created_at"], row["started_at"], job.id),
            )
        ).fetchone()
    dispatcher = engine.dispatcher
    return {
        "recent_mean_s": dict(getattr(dispatcher, "_means", {})),
        "backlog_pending": queued,
        "wait_ms": round(float(row["wait_s"]) * 1000, 1),
        "dispatched_after_ms": dispatched_ms,
        "overtakers": int(over["n"]) if over else None,
    }


async def drain(engine: Engine, timeout: float = 120) -> None:
    """Cancel what is left of a backlog and wait until nothing is pending or running.

    Rows a worker or the dispatcher holds are skipped (SKIP LOCKED) and taken
    in a later round: one UPDATE of every pending row would deadlock with a
    worker's batch start, which locks its rows in its own order.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            async with engine.pool.connection() as conn:
                await conn.execute(
                    "UPDATE jobs SET status = 'cancelled', completed_at = now(), dispatched_at = NULL"
                    " WHERE id IN (SELECT id FROM jobs WHERE status = 'pending' ORDER BY id"
                    " FOR UPDATE SKIP LOCKED)"
                )
                row = await (
                    await conn.execute("SELECT count(*) AS n FROM jobs WHERE status IN ('pending', 'active')")
                ).fetchone()
        except psycopg.errors.DeadlockDetected:
            continue
        if not row or not row["n"]:
            return
        await asyncio.sleep(0.1)
    raise TimeoutError("the backlog did not drain")


def run(env: BenchEnv, quick: bool = False) -> Result:
    backlog = 300 if quick else 10_000
    trials = 2 if quick else 5
    warmup_s = 0.5 if quick else 3.0
    noop: dict[str, Any] = {"type": "bench.noop"}
    sleep_50: dict[str, Any] = {"type": "bench.sleep", "data": {"seconds": 0.05}}
    sleep_500: dict[str, Any] = {"type": "bench.sleep", "data": {"seconds": 0.5}}
    # Slowest first: the window of a worker group is sized by the shortest recent mean
    # among its queues (30 s of history), so a kind run after a faster one inherits the
    # faster one's deep window. The last kind shows that case on purpose.
    kinds: list[tuple[str, dict[str, Any]]] = (
        [("sleep_50ms", sleep_50), ("noop", noop)]
        if quick
        else [
            ("sleep_500ms", sleep_500),
            ("sleep_50ms", sleep_50),
            ("noop", noop),
            ("sleep_500ms_after_noop", sleep_500),
        ]
    )
    processes = 1 if quick else PROCESSES
    result = Result(NAME, TITLE, quick=quick)
    settings = env.settings()
    result.settings = {
        "backlog": backlog,
        "trials": trials,
        "processes": processes,
        "threads": THREADS,
        "urgent_priority": URGENT,
        "dispatch_window_s": settings.dispatch_window_s,
        "dispatch_window_max": settings.dispatch_window_max,
    }

    async def main() -> None:
        env.start_workers(processes, THREADS)
        engine = await Engine.start(env.settings(), env.registry())
        try:
            for name, spec in kinds:
                await top_up(engine, spec, backlog)
                await asyncio.sleep(warmup_s)  # workers busy; the window sized from real durations
                runs = []
                for _ in range(trials):
                    runs.append(await trial(engine, spec, backlog))
                    await asyncio.sleep(0.2)
                await drain(engine)
                waits = [r["wait_ms"] for r in runs]
                result.details[name] = {
                    "wait_ms": summary(waits, 1),
                    "overtakers": summary([r["overtakers"] for r in runs], 0),
                    "runs": runs,
                }
        finally:
            await engine.stop()

    asyncio.run(main())
    for name, _ in kinds:
        d = result.details[name]
        mixed = name.endswith("_after_noop")
        result.add(
            f"{name}_wait_max_ms",
            f"urgent job's wait, {name} backlog, max",
            d["wait_ms"]["max"],
            "ms",
            None if mixed else 1000.0,
            None if mixed else "max",
        )
        result.add(
            f"{name}_wait_p50_ms", f"urgent job's wait, {name} backlog, median", d["wait_ms"]["p50"], "ms"
        )
        result.add(
            f"{name}_overtakers_max", f"jobs overtaking it, {name} backlog, max", d["overtakers"]["max"], ""
        )
    return result
