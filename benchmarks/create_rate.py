"""2. Create rate: `POST /api/jobs` from concurrent HTTP clients, and JobsService directly.

The server runs in this process as `jobdesk serve` runs it (uvicorn on the
engine's loop); the clients run in another process (benchmarks/loadgen.py),
each a keep-alive connection sending `{"type": "bench.noop"}` back to back.
No workers run: the jobs stay pending, so only creating is measured. Each
request authenticates its token (one query) and inserts its job (one
autocommit INSERT with its NOTIFY); the server's CPU per request is read
too. Then the same through JobsService in this process: `create_job` from
concurrent tasks, and one `create_jobs` batch of 10,000.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from benchmarks import serving
from benchmarks.env import BenchEnv
from benchmarks.measure import self_cpu_seconds, summary
from benchmarks.report import Result
from jobdesk.service.engine import Engine

NAME = "create"
TITLE = "Job creation: REST and JobsService"
BODY = json.dumps({"type": "bench.noop", "name": "created over REST"})


async def service_concurrent(engine: Engine, concurrency: int, duration: float) -> dict[str, Any]:
    latencies: list[float] = []
    stop_at = time.perf_counter() + duration

    async def client() -> None:
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            await engine.service.create_job(serving.USER, serving.ORG, {"type": "bench.noop"})
            latencies.append((time.perf_counter() - t0) * 1000)

    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    seconds = time.perf_counter() - t0
    return {
        "concurrency": concurrency,
        "requests": len(latencies),
        "jobs_per_s": round(len(latencies) / seconds, 1),
        "latency_ms": summary(latencies, 2),
    }


async def service_batch(engine: Engine, n: int) -> dict[str, Any]:
    specs: list[dict[str, Any]] = [{"type": "bench.noop"} for _ in range(n)]
    t0 = time.perf_counter()
    await engine.service.create_jobs(serving.USER, serving.ORG, specs)
    seconds = time.perf_counter() - t0
    return {"n": n, "seconds": round(seconds, 3), "jobs_per_s": round(n / seconds, 1)}


def run(env: BenchEnv, quick: bool = False) -> Result:
    duration = 1.0 if quick else 5.0
    warmup = 0.2 if quick else 1.0
    levels = (4,) if quick else (1, 16, 64)
    batch = 200 if quick else 10_000
    result = Result(NAME, TITLE, quick=quick)
    result.settings = {
        "duration_s": duration,
        "warmup_s": warmup,
        "concurrency": list(levels),
        "batch": batch,
        "body": BODY,
        "server": "uvicorn (h11), in this process; clients in another process",
        "db_pool_max": env.settings().db_pool_max,
    }

    async def rest_runs(server: Any, bearer: str) -> dict[str, Any]:
        rest: dict[str, Any] = {}
        for c in levels:
            cpu0 = self_cpu_seconds()
            r = await serving.loadgen(
                env,
                "http",
                "--port",
                str(server.api_port),
                "--token",
                bearer,
                "--method",
                "POST",
                "--path",
                "/api/jobs",
                "--body",
                BODY,
                "--concurrency",
                str(c),
                "--duration",
                str(duration),
                "--warmup",
                str(warmup),
            )
            cpu = self_cpu_seconds() - cpu0
            total = r["requests"] * (1 + warmup / duration)  # roughly what the CPU paid for
            r["server_cpu_ms_per_request"] = round(1000 * cpu / total, 3) if total else None
            if r["ok"] != r["requests"]:
                raise RuntimeError(f"{r['requests'] - r['ok']} requests failed: {r['statuses']}")
            rest[str(c)] = r
        return rest

    env.stop_workers()  # a live worker would have the dispatcher send and run what is created

    async def main() -> None:
        server = await serving.serve(env)
        bearer = serving.token(env)
        try:
            result.details["rest"] = await rest_runs(server, bearer)
            result.details["service"] = {
                str(c): await service_concurrent(server.engine, c, duration) for c in levels
            }
            result.details["service_batch"] = await service_batch(server.engine, batch)
        finally:
            await server.stop()

    asyncio.run(main())
    for c in levels:
        r = result.details["rest"][str(c)]
        key = f"rest_c{c}"
        result.add(f"{key}_rps", f"POST /api/jobs, {c} clients", r["requests_per_s"], "req/s")
        result.add(f"{key}_p50_ms", f"POST /api/jobs, {c} clients, p50", r["latency_ms"]["p50"], "ms")
        result.add(f"{key}_p99_ms", f"POST /api/jobs, {c} clients, p99", r["latency_ms"]["p99"], "ms")
        result.add(f"{key}_cpu_ms", f"server CPU per POST, {c} clients", r["server_cpu_ms_per_request"], "ms")
    for c in levels:
        s = result.details["service"][str(c)]
        result.add(f"service_c{c}_jps", f"JobsService.create_job, {c} tasks", s["jobs_per_s"], "jobs/s")
    result.add(
        "service_batch_jps",
        f"JobsService.create_jobs, batch of {batch:,}",
        result.details["service_batch"]["jobs_per_s"],
        "jobs/s",
    )
    return result
