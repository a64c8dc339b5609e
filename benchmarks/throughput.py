"""1. Throughput: N no-op jobs end to end against N messages through bare Dramatiq.

jobdesk: this process runs the engine as a server does (dispatcher, event
hub); `jobdesk worker` processes run the jobs. A run creates N `bench.noop`
jobs in one `create_jobs` batch (one transaction), and ends when the N-th
`job-completed` notification reaches the engine, i.e. when the last
completion has committed in PostgreSQL. Counting costs nothing extra: the
engine receives those notifications anyway.

Bare Dramatiq: N messages for a no-op actor, enqueued through pipelines, on
the same Redis, with the same worker processes, threads, prefetch and idle
timeout; a run ends when the last message is acked (see benchmarks/bare.py).

Both are timed from the first request (the create call, the first enqueue)
to the last completion. Rounds alternate between the two and the median of
each is reported; a warm-up round on each side comes first. Then 2 x 8 once
more with `synchronous_commit = off` for the benchmark's database: every
state change commits with a NOTIFY, and PostgreSQL serializes notifying
commits, flush included, so this shows what the flush costs.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from benchmarks import bare
from benchmarks.env import BenchEnv
from benchmarks.measure import CpuMeter, median
from benchmarks.report import Result
from jobdesk.cli.worker import WORKER_ENV
from jobdesk.service.engine import Engine
from jobdesk.store.notify import Notification

NAME = "throughput"
TITLE = "No-op jobs end to end vs bare Dramatiq"
THREADS = 8
BENCH_USER = BENCH_ORG = "bench"


@dataclass
class Completions:
    """Counts job-completed notifications as the engine receives them."""

    target: int = 0
    seen: int = 0
    last_at: float = 0.0
    event: asyncio.Event | None = None

    def arm(self, target: int) -> asyncio.Event:
        self.target, self.seen, self.last_at = target, 0, 0.0
        self.event = asyncio.Event()
        return self.event

    def __call__(self, batch: list[Notification]) -> None:
        n = sum(1 for name, _ in batch if name == "job-completed")
        if n and self.event is not None:
            self.seen += n
            if self.seen >= self.target and not self.event.is_set():
                self.last_at = time.perf_counter()
                self.event.set()


class JobdeskSide:
    """The engine of a server, and a way to run N no-op jobs through it."""

    def __init__(self, env: BenchEnv, engine: Engine) -> None:
        self.env = env
        self.engine = engine
        self.completions = Completions()
        engine.hub.on_notifications(self.completions)

    @classmethod
    async def start(cls, env: BenchEnv) -> JobdeskSide:
        return cls(env, await Engine.start(env.settings(), env.registry()))

    async def stop(self) -> None:
        await self.engine.stop()

    async def run(self, n: int, cpu: bool = False, timeout: float = 300) -> dict[str, Any]:
        specs: list[dict[str, Any]] = [{"type": "bench.noop", "name": f"noop {i}"} for i in range(n)]
        done = self.completions.arm(n)
        meter = None
        if cpu:
            assert self.env.workers is not None
            parties = {"workers": self.env.workers.pids(), "postgres": self.env.backend_pids()}
            meter = CpuMeter(parties, redis_url=self.env.redis_url).start()
        workers = self.env.workers
        assert workers is not None
        await asyncio.sleep(0.3)  # the probes report every 0.25 s
        commits0 = workers.commits()
        dispatcher = self.engine.dispatcher
        rounds0 = dispatcher.stats.rounds if dispatcher else 0
        t0 = time.perf_counter()
        await self.engine.service.create_jobs(BENCH_USER, BENCH_ORG, specs)
        created = time.perf_counter()
        await asyncio.wait_for(done.wait(), timeout)
        end = self.completions.last_at
        out: dict[str, Any] = {
            "n": n,
            "seconds": round(end - t0, 4),
            "create_seconds": round(created - t0, 4),
            "jobs_per_s": round(n / (end - t0), 1),
            "processing_jobs_per_s": round(n / (end - created), 1),
        }
        if meter is not None:
            out["cpu"] = meter.stop()
        out["dispatch_rounds"] = (dispatcher.stats.rounds if dispatcher else 0) - rounds0
        await asyncio.sleep(0.3)
        out["writer_commits"] = workers.commits() - commits0
        out["jobs_per_commit"] = round(n / out["writer_commits"], 2) if out["writer_commits"] else None
        async with self.engine.pool.connection() as conn:
            row = await (
                await conn.execute("SELECT count(*) AS n FROM jobs WHERE status <> 'completed'")
            ).fetchone()
        if row and row["n"]:
            raise RuntimeError(f"{row['n']} jobs are not completed after the run")
        return out


def bare_run(env: BenchEnv, n: int, cpu: bool = False) -> dict[str, Any]:
    meter = None
    if cpu:
        assert env.bare is not None
        meter = CpuMeter({"workers": env.bare.pids()}, redis_url=env.redis_url).start()
    seconds = bare.run(env.redis_url, env.bare_namespace, n)
    out: dict[str, Any] = {"n": n, "seconds": round(seconds, 4), "msgs_per_s": round(n / seconds, 1)}
    if meter is not None:
        out["cpu"] = meter.stop()
    return out


async def compare(
    env: BenchEnv, side: JobdeskSide, processes: int, n: int, rounds: int, cpu: bool = False
) -> dict[str, Any]:
    """Interleaved rounds of jobdesk and bare Dramatiq on P x THREADS workers; medians."""
    env.start_workers(processes, THREADS)
    env.start_bare(processes, THREADS)
    warm = min(n, 2000) if n >= 1000 else 50
    await side.run(warm)
    await asyncio.to_thread(bare_run, env, warm)
    jd, br = [], []
    for _ in range(rounds):
        jd.append(await side.run(n, cpu=cpu))
        br.append(await asyncio.to_thread(bare_run, env, n, cpu))
    jd_rate = median(r["jobs_per_s"] for r in jd)
    br_rate = median(r["msgs_per_s"] for r in br)
    proc_rate = median(r["processing_jobs_per_s"] for r in jd)
    return {
        "processes": processes,
        "threads": THREADS,
        "jobdesk_jobs_per_s": jd_rate,
        "jobdesk_processing_jobs_per_s": proc_rate,
        "jobdesk_create_seconds": median(r["create_seconds"] for r in jd),
        "bare_msgs_per_s": br_rate,
        "ratio": round(jd_rate / br_rate, 3),
        "processing_ratio": round(proc_rate / br_rate, 3),
        "jobdesk_runs": jd,
        "bare_runs": br,
    }


def run(env: BenchEnv, quick: bool = False) -> Result:
    n = 300 if quick else 5_000
    rounds = 1 if quick else 3
    shapes = (1,) if quick else (1, 2)
    result = Result(NAME, TITLE, quick=quick)
    result.settings = {
        "n": n,
        "rounds": rounds,
        "threads_per_process": THREADS,
        "worker_env": WORKER_ENV,
        "bare_middleware": "none",
        "engine": env.settings().model_dump(
            include={
                "dispatch_tick_s",
                "dispatch_batch_max",
                "dispatch_window_s",
                "dispatch_window_max",
                "progress_interval_s",
                "db_pool_max",
            }
        ),
    }

    async def main() -> None:
        env.reset()
        side = await JobdeskSide.start(env)
        try:
            for processes in shapes:
                result.details[f"{processes}x{THREADS}"] = await compare(env, side, processes, n, rounds)
        finally:
            await side.stop()

    async def without_fsync() -> None:
        """2 x 8 again with synchronous_commit off for this database: what the commit's flush costs."""
        with env.connect() as conn:
            conn.execute(f'ALTER DATABASE "{env.database_name}" SET synchronous_commit = off')
        env.stop_workers()  # new connections read the setting
        side = await JobdeskSide.start(env)
        try:
            result.details["2x8_synchronous_commit_off"] = await compare(env, side, 2, n, rounds)
        finally:
            await side.stop()
            with env.connect() as conn:
                conn.execute(f'ALTER DATABASE "{env.database_name}" RESET synchronous_commit')
            env.stop_workers()

    asyncio.run(main())
    if not quick:
        asyncio.run(without_fsync())
    for processes in shapes:
        d = result.details[f"{processes}x{THREADS}"]
        shape = f"{processes}x{THREADS}"
        result.add(f"jobdesk_{shape}", f"jobdesk jobs/s, {shape}", d["jobdesk_jobs_per_s"], "jobs/s")
        result.add(f"bare_{shape}", f"bare Dramatiq msgs/s, {shape}", d["bare_msgs_per_s"], "msgs/s")
        result.add(
            f"ratio_{shape}",
            f"jobdesk / bare, {shape}",
            d["ratio"],
            "x",
            0.5,
            "min",
            note="aim 0.8; end to end, the batch create included",
        )
        result.add(
            f"processing_ratio_{shape}",
            f"jobdesk / bare after the create, {shape}",
            d["processing_ratio"],
            "x",
        )
        result.add(
            f"jobs_per_commit_{shape}",
            f"jobs per worker group commit, {shape}",
            median(r["jobs_per_commit"] or 0 for r in d["jobdesk_runs"]),
            "",
        )
    off = result.details.get("2x8_synchronous_commit_off")
    if off:
        result.add(
            "jobdesk_2x8_sync_off",
            "jobdesk jobs/s, 2x8, synchronous_commit off",
            off["jobdesk_jobs_per_s"],
            "jobs/s",
        )
        result.add("ratio_2x8_sync_off", "jobdesk / bare, 2x8, synchronous_commit off", off["ratio"], "x")
    return result
