"""3. Event latency: from a handler's `ctx.progress()` to a WebSocket client, at 100 and 1,000 events/s.

`bench.progress` jobs report progress every 0.1 s, the engine's default
per-job throttle (`progress_interval_s`): the fastest a job may report and
have every report sent. Each report's message is the wall-clock time at
which the handler made it.
J jobs at once give 10 x J events/s: 10 jobs for 100/s, 100 for 1,000/s, on
2 worker processes of 64 threads (one thread per job; they mostly sleep).
The path measured: handler -> the worker's state writer (a group-committed
UPDATE with its NOTIFY) -> PostgreSQL -> the server's LISTEN connection ->
the event hub (one read of the rows per burst) -> the WebSocket gateway ->
a client in another process, which notes each event's delay on arrival
(same machine, same clock). The first second is left out (start-up). Each
event's delay is also split at the start of the state write that carried it
(the row's updated_at): before it, the throttle and the group commit; after
it, commit, NOTIFY, LISTEN, hub and gateway. Also measured: the delay to the
event hub in the server process (the WebSocket leg is the difference), and
what a NOTIFY does to PostgreSQL's commit rate (notify_cost).
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from typing import Any

import psycopg

from benchmarks import serving
from benchmarks.env import BenchEnv
from benchmarks.measure import summary
from benchmarks.report import Result
from jobdesk.core.events import EventName, JobEvent

NAME = "events"
TITLE = "Progress event latency to a WebSocket client"
PROCESSES, THREADS = 2, 64
PER_JOB_HZ = 10  # one report per progress_interval_s (0.1 s)
WARMUP_S = 1.0


class HubProbe:
    """Delay from the handler's report to the event hub of the server (in this process)."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []
        # Of the same events: report -> the start of the writer's transaction (the row's
        # updated_at, PostgreSQL's now()), i.e. the worker-side share of the delay.
        self.to_write: list[tuple[float, float]] = []

    def __call__(self, events: list[JobEvent]) -> None:
        now = time.time()
        for e in events:
            if e.name is EventName.UPDATE and e.job.progress.message:
                try:
                    emitted = float(e.job.progress.message)
                except ValueError:
                    continue
                self.samples.append((emitted, (now - emitted) * 1000))
                self.to_write.append((emitted, (e.job.updated_at.timestamp() - emitted) * 1000))


def notify_cost(url: str, seconds: float, connections: int = 8) -> dict[str, float]:
    """Commits/s of a one-row UPDATE from `connections` connections, without and with a pg_notify.

    PostgreSQL serializes the commits of notifying transactions (a lock held
    from before the commit until after its WAL flush), so with the flush
    included in every one they cannot share a flush with each other.
    """
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_notify (id int PRIMARY KEY, n bigint NOT NULL)")
        conn.execute(
            "INSERT INTO bench_notify SELECT g, 0 FROM generate_series(1, %s) g ON CONFLICT DO NOTHING",
            (connections,),
        )

    def load(notify: bool) -> float:
        stop = threading.Event()
        counts = [0] * connections

        def worker(i: int) -> None:
            with psycopg.connect(url, autocommit=True) as conn:
                while not stop.is_set():
                    with conn.transaction():
                        conn.execute("UPDATE bench_notify SET n = n + 1 WHERE id = %s", (i + 1,))
                        if notify:
                            conn.execute("SELECT pg_notify('jobdesk_bench', 'x')")
                    counts[i] += 1

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
        for t in threads:
            t.start()
        time.sleep(seconds)
        stop.set()
        for t in threads:
            t.join()
        return round(sum(counts) / seconds, 1)

    plain = load(False)
    notifying = load(True)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE bench_notify")
    return {"connections": connections, "commits_per_s": plain, "notifying_commits_per_s": notifying}


def steady(samples: list[tuple[float, float]], start: float, end: float) -> list[float]:
    return [lat for at, lat in samples if start <= at <= end]


async def one_rate(env: BenchEnv, server: Any, bearer: str, rate: int, seconds: float) -> dict[str, Any]:
    jobs = max(1, rate // PER_JOB_HZ)
    count = int(seconds * PER_JOB_HZ)
    probe = HubProbe()
    unsubscribe = server.engine.hub.subscribe(probe)
    listener = await serving.WsListener.start(env, server.ws_url, bearer, idle=2.0, max_s=seconds + 120)
    specs: list[dict[str, Any]] = [
        {
            "type": "bench.progress",
            "data": {"count": count, "interval": 1 / PER_JOB_HZ, "phase": random.uniform(0, 1 / PER_JOB_HZ)},
        }
        for _ in range(jobs)
    ]
    t0 = time.time()
    await server.engine.service.create_jobs(serving.USER, serving.ORG, specs)
    got = await listener.result()
    unsubscribe()
    samples = [(a, b) for a, b in got["samples"]]
    # Steady state: after the warm-up, before the first job could have ended.
    first = min((a for a, _ in samples), default=t0)
    window = (first + WARMUP_S, first + seconds - 0.2)
    ws = steady(samples, *window)
    hub = steady(probe.samples, *window)
    span = window[1] - window[0]
    # The same events, split: report -> start of the writer's transaction (throttle and group
    # commit), and from there to the WebSocket client (commit, NOTIFY, LISTEN, hub, gateway).
    to_write = {round(a, 6): w for a, w in probe.to_write}
    after_write = [
        lat - to_write[round(a, 6)]
        for a, lat in samples
        if round(a, 6) in to_write and window[0] <= a <= window[1]
    ]
    return {
        "jobs": jobs,
        "reports_per_job": count,
        "events_received": got["received"],
        "progress_events": len(samples),
        "expected_progress_events": jobs * count,
        "steady_events_per_s": round(len(ws) / span, 1) if span > 0 else None,
        "ws_latency_ms": summary(ws, 2),
        "hub_latency_ms": summary(hub, 2),
        "to_write_start_ms": summary(steady(probe.to_write, *window), 2),
        "write_start_to_ws_ms": summary(after_write, 2),
    }


def run(env: BenchEnv, quick: bool = False) -> Result:
    rates = (50,) if quick else (100, 1000)
    seconds = 2.0 if quick else 10.0
    processes, threads = (1, 8) if quick else (PROCESSES, THREADS)
    result = Result(NAME, TITLE, quick=quick)
    settings = env.settings()
    result.settings = {
        "rates": list(rates),
        "seconds": seconds,
        "processes": processes,
        "threads": threads,
        "progress_interval_s": settings.progress_interval_s,
        "transport": "PostgreSQL NOTIFY in the state write's transaction; LISTEN in the server",
    }

    async def main() -> None:
        env.start_workers(processes, threads)
        server = await serving.serve(env)
        bearer = serving.token(env)
        try:
            for rate in rates:
                result.details[str(rate)] = await one_rate(env, server, bearer, rate, seconds)
                await asyncio.sleep(0.5)
        finally:
            await server.stop()

    asyncio.run(main())
    result.details["notify_cost"] = notify_cost(env.database_url, 1.0 if quick else 3.0)
    for rate in rates:
        d = result.details[str(rate)]
        lat = d["ws_latency_ms"]
        target = 50.0 if rate == 1000 else None
        kind = "max" if target else None
        result.add(f"{rate}_p50_ms", f"progress -> WebSocket, {rate}/s, p50", lat["p50"], "ms")
        result.add(f"{rate}_p99_ms", f"progress -> WebSocket, {rate}/s, p99", lat["p99"], "ms", target, kind)
        result.add(f"{rate}_max_ms", f"progress -> WebSocket, {rate}/s, max", lat["max"], "ms")
        result.add(f"{rate}_rate", f"events/s delivered, {rate}/s asked", d["steady_events_per_s"], "/s")
        result.add(
            f"{rate}_to_write_p99_ms",
            f"of which report -> state write begins, {rate}/s, p99",
            d["to_write_start_ms"]["p99"],
            "ms",
        )
        result.add(
            f"{rate}_after_write_p99_ms",
            f"state write begins -> WebSocket, {rate}/s, p99",
            d["write_start_to_ws_ms"]["p99"],
            "ms",
        )
    cost = result.details["notify_cost"]
    result.add("commits_per_s", "commits/s, 8 connections, no NOTIFY", cost["commits_per_s"], "/s")
    result.add(
        "notifying_commits_per_s",
        "commits/s, 8 connections, with NOTIFY",
        cost["notifying_commits_per_s"],
        "/s",
    )
    return result
