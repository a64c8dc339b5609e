"""7. Cost per job: CPU seconds per 1,000 no-op jobs, by process.

The runs of scenario 1 (2 x 8 workers) with every party's CPU read before
and after: the server process (this one: the batch create, the dispatcher,
the event hub's LISTEN), the worker processes (Dramatiq's supervisor and
workers), the PostgreSQL backends serving this benchmark's database, and
the Redis server (INFO cpu; Redis is shared, so whatever else used it in
those seconds is counted too). The same for bare Dramatiq: its workers,
the enqueuing process and Redis. Then one more jobdesk run with
PostgreSQL's busy time broken down by statement (benchmarks/pgprofile.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

from benchmarks.env import BenchEnv
from benchmarks.measure import median
from benchmarks.pgprofile import PgProfile
from benchmarks.report import Result
from benchmarks.throughput import THREADS, JobdeskSide, bare_run

NAME = "cost"
TITLE = "CPU seconds per 1,000 no-op jobs"
PROCESSES = 2


def table_stats(env: BenchEnv) -> dict[str, int]:
    """Rows inserted and updated in jobs so far, and how many updates were HOT (no index touched)."""
    with env.connect() as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute(
            "SELECT n_tup_ins, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'jobs'"
        ).fetchone()
    assert row is not None
    return {"inserts": int(row[0]), "updates": int(row[1]), "hot_updates": int(row[2])}


def per_thousand(runs: list[dict[str, Any]], party: str) -> float:
    return round(median(1000 * r["cpu"][party] / r["n"] for r in runs), 4)


def run(env: BenchEnv, quick: bool = False) -> Result:
    n = 300 if quick else 5_000
    rounds = 1 if quick else 3
    processes = 1 if quick else PROCESSES
    result = Result(NAME, TITLE, quick=quick)
    result.settings = {"n": n, "rounds": rounds, "processes": processes, "threads": THREADS}
    jd: list[dict[str, Any]] = []
    br: list[dict[str, Any]] = []

    async def main() -> None:
        side = await JobdeskSide.start(env)
        try:
            env.start_workers(processes, THREADS)
            env.start_bare(processes, THREADS)
            warm = min(n, 2000) if n >= 1000 else 50
            await side.run(warm)
            await asyncio.to_thread(bare_run, env, warm)
            # Busy backends publish their table statistics when idle, within 10 s (PostgreSQL 15).
            settle = 0.0 if quick else 11.0
            await asyncio.sleep(settle)
            before = table_stats(env)
            for _ in range(rounds):
                jd.append(await side.run(n, cpu=True))
                br.append(await asyncio.to_thread(bare_run, env, n, True))
            await asyncio.sleep(settle)
            after = table_stats(env)
            jobs = n * rounds
            result.details["row_writes_per_job"] = {
                k: round((after[k] - before[k]) / jobs, 2) for k in ("inserts", "updates", "hot_updates")
            }
            # One more jobdesk run, not counted above, with PostgreSQL's busy time sampled.
            profile = PgProfile(env.database_url, env.database_name).start()
            try:
                await side.run(n)
            finally:
                result.details["postgres_profile"] = profile.stop()
        finally:
            await side.stop()
            env.stop_bare()  # no later scenario needs it

    asyncio.run(main())
    parties = {"server": "self", "workers": "workers", "postgres": "postgres", "redis": "redis"}
    jobdesk = {name: per_thousand(jd, key) for name, key in parties.items()}
    jobdesk["total"] = round(sum(jobdesk.values()), 4)
    bare = {
        "workers": per_thousand(br, "workers"),
        "enqueuer": per_thousand(br, "self"),
        "redis": per_thousand(br, "redis"),
    }
    bare["total"] = round(sum(bare.values()), 4)
    result.details.update(
        {"jobdesk_per_1000": jobdesk, "bare_per_1000": bare, "jobdesk_runs": jd, "bare_runs": br}
    )
    result.add("server_cpu_s", "server CPU s / 1,000 jobs", jobdesk["server"], "s")
    result.add("workers_cpu_s", "workers CPU s / 1,000 jobs", jobdesk["workers"], "s")
    result.add("postgres_cpu_s", "PostgreSQL CPU s / 1,000 jobs", jobdesk["postgres"], "s")
    result.add("redis_cpu_s", "Redis CPU s / 1,000 jobs (shared)", jobdesk["redis"], "s")
    result.add("total_cpu_s", "all CPU s / 1,000 jobs", jobdesk["total"], "s")
    result.add("bare_workers_cpu_s", "bare workers CPU s / 1,000 msgs", bare["workers"], "s")
    result.add("bare_total_cpu_s", "bare all CPU s / 1,000 msgs", bare["total"], "s")
    writes = result.details["row_writes_per_job"]
    result.add(
        "updates_per_job",
        "row updates per job (none HOT)"
        if not writes["hot_updates"]
        else f"row updates per job ({writes['hot_updates']} HOT)",
        writes["updates"],
        "",
    )
    if bare["total"]:
        result.add("cpu_ratio", "jobdesk / bare CPU per job", round(jobdesk["total"] / bare["total"], 2), "x")
    return result
