"""5. Scale: the list and stats endpoints with 1,000,000 jobs in the table, and its size.

The jobs are loaded straight into PostgreSQL (benchmarks/dataset.py: a
realistic mix of statuses, types and organizations). Then each request is
timed one at a time from a client process, interleaved (20 times each):
the first page (default limit 20), filtered by status and by type, a deep
offset, the same depth by cursor (keyset pagination: the `nextCursor` of
the page before row 100,000), and `GET /api/jobs/stats`, with an admin's
token (every job) and a member's (organization org-0, 40 % of the jobs).
Then 10 times each through JobsService in the server's process (the
database and service share of a request). EXPLAIN ANALYZE of the queries
behind them goes into the details, and the size of the job-count rollup.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import psycopg

from benchmarks import serving
from benchmarks.dataset import load_jobs
from benchmarks.env import BenchEnv
from benchmarks.measure import summary
from benchmarks.report import Result
from jobdesk.service.engine import Engine
from jobdesk.service.jobs import decode_cursor
from jobdesk.store.jobs import ListFilter, count_query, page_query

NAME = "scale"
TITLE = "List and stats with 1,000,000 jobs"
MEMBER_ORG = "org-0"

PATHS = {
    "first_page": "/api/jobs",
    "by_status": "/api/jobs?status=failed",
    "by_type": "/api/jobs?type=model-training",
    "deep_offset": "/api/jobs?offset=100000",
    "deep_cursor": "/api/jobs?cursor={cursor}",
    "stats": "/api/jobs/stats",
}
TARGETS = {"first_page": 50.0, "stats": 200.0}


async def deep_cursor(engine: Engine, org: str | None, deep: int) -> str:
    """The cursor of the page that starts at row `deep` (the same rows as offset=deep)."""
    page = await engine.service.list_jobs(org, offset=deep - 1, limit=1)
    assert page.next_cursor is not None
    return page.next_cursor


async def service_timings(
    engine: Engine, org: str | None, count: int, deep: int, cursor: str
) -> dict[str, Any]:
    calls = {
        "first_page": lambda: engine.service.list_jobs(org),
        "by_status": lambda: engine.service.list_jobs(org, status="failed"),
        "by_type": lambda: engine.service.list_jobs(org, type="model-training"),
        "deep_offset": lambda: engine.service.list_jobs(org, offset=deep),
        "deep_cursor": lambda: engine.service.list_jobs(org, cursor=cursor),
        "stats": lambda: engine.service.stats(org),
    }
    samples: dict[str, list[float]] = {k: [] for k in calls}
    for call in calls.values():
        await call()  # warm-up
    for _ in range(count):
        for key, call in calls.items():
            t0 = time.perf_counter()
            await call()
            samples[key].append((time.perf_counter() - t0) * 1000)
    return {k: summary(v, 2) for k, v in samples.items()}


def explain(url: str, org: str | None, deep: int, cursor: str) -> dict[str, str]:
    """EXPLAIN (ANALYZE, BUFFERS) of the queries behind each request (the store's own SQL)."""
    from jobdesk.store.sql import q

    out: dict[str, str] = {}
    lists = {
        "first_page": ListFilter(org),
        "by_status": ListFilter(org, status="failed"),
        "by_type": ListFilter(org, type="model-training"),
        "deep_offset": ListFilter(org, offset=deep),
        "deep_cursor": ListFilter(org, after=decode_cursor(cursor, "created", True)),
    }
    with psycopg.connect(url, autocommit=True) as conn:
        for key, f in lists.items():
            for part, (query, args) in (("page", page_query(f)), ("count", count_query(f))):
                rows = conn.execute(psycopg.sql.SQL("EXPLAIN (ANALYZE, BUFFERS) ") + query, args).fetchall()
                out[f"{key}.{part}"] = "\n".join(r[0] for r in rows)
        for name in ("stats_counts", "stats_durations"):
            rows = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + q(name), {"org": org}).fetchall()
            out[f"stats.{name}"] = "\n".join(r[0] for r in rows)
    return out


def sizes(url: str) -> dict[str, Any]:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*), pg_relation_size('jobs'), pg_indexes_size('jobs'),"
            " pg_total_relation_size('jobs') FROM jobs"
        ).fetchone()
        assert row is not None
        n, heap, indexes, total = row
        per_index = conn.execute(
            "SELECT indexrelid::regclass::text, pg_relation_size(indexrelid) FROM pg_index"
            " WHERE indrelid = 'jobs'::regclass ORDER BY 2 DESC"
        ).fetchall()
    per_million = 1_000_000 / n if n else 0.0
    mb = 2**20
    return {
        "rows": n,
        "table_mb_per_million": round(heap * per_million / mb, 1),
        "indexes_mb_per_million": round(indexes * per_million / mb, 1),
        "total_mb_per_million": round(total * per_million / mb, 1),
        "toast_mb_per_million": round((total - heap - indexes) * per_million / mb, 1),
        "bytes_per_job": round(total / n) if n else None,
        "index_mb_per_million": {name: round(size * per_million / mb, 1) for name, size in per_index},
        "rollup": rollup_size(url),
    }


def rollup_size(url: str) -> dict[str, Any]:
    """Rows and bytes of the job-count rollup's tables (migration 0005)."""
    out: dict[str, Any] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        for table in ("job_counts", "job_count_deltas", "job_durations", "job_duration_deltas"):
            row = conn.execute(
                psycopg.sql.SQL("SELECT count(*), pg_total_relation_size(%s) FROM {}").format(
                    psycopg.sql.Identifier(table)
                ),
                (table,),
            ).fetchone()
            assert row is not None
            out[table] = {"rows": row[0], "kb": round(row[1] / 1024)}
    return out


def run(env: BenchEnv, quick: bool = False) -> Result:
    n = 5_000 if quick else 1_000_000
    count = 3 if quick else 20  # REST as the server is: the figures judged against the targets
    count_more = 3 if quick else 10  # through JobsService: where a request's time goes
    deep = 1_000 if quick else 100_000
    result = Result(NAME, TITLE, quick=quick)
    result.settings = {
        "jobs": n,
        "requests_per_endpoint": count,
        "requests_per_endpoint_service": count_more,
        "deep_offset": deep,
        "paths": PATHS,
    }
    if quick:  # nothing runnable is loaded, so the workers of the other scenarios may stay
        env.reset()
        loaded = load_jobs(env.database_url, n, pending_share=0.0, active=0)
    else:  # the loaded backlog must stay as loaded: no worker may take it
        env.stop_workers()
        env.reset()
        loaded = load_jobs(env.database_url, n, progress=True)
    result.details["load_seconds"] = round(loaded, 1)
    result.details["size"] = sizes(env.database_url)
    who = {"admin": (None, True), "member": (MEMBER_ORG, False)}
    cursors: dict[str, str] = {}

    async def main() -> None:
        server = await serving.serve(env)
        try:
            tokens = {
                role: serving.token(env, user=f"{role}-user", org=org or "ops", admin=admin)
                for role, (org, admin) in who.items()
            }
            for role, (org, _) in who.items():
                cursors[role] = await deep_cursor(server.engine, org, deep)
            for role in who:
                paths = {
                    k: v.replace("100000", str(deep)).replace("{cursor}", cursors[role])
                    for k, v in PATHS.items()
                }
                got = await serving.loadgen(
                    env,
                    "get",
                    "--port",
                    str(server.api_port),
                    "--token",
                    tokens[role],
                    "--count",
                    str(count),
                    *paths.values(),
                )
                result.details.setdefault("rest", {})[role] = {k: got[p] for k, p in paths.items()}
            for role, (org, _) in who.items():
                result.details.setdefault("service", {})[role] = await service_timings(
                    server.engine, org, count_more, deep, cursors[role]
                )
        finally:
            await server.stop()

    asyncio.run(main())
    result.details["rollup_after_requests"] = rollup_size(env.database_url)  # compacted by the server
    result.details["explain_admin"] = explain(env.database_url, None, deep, cursors["admin"])
    result.details["explain_member"] = explain(env.database_url, MEMBER_ORG, deep, cursors["member"])
    size = result.details["size"]
    for role in who:
        for key in PATHS:
            rest = result.details["rest"][role][key]
            service = result.details["service"][role][key]
            target = TARGETS.get(key)
            result.add(
                f"{role}_{key}_p95_ms",
                f"{role}: {key}, p95 (p50 {rest['p50']:.0f})",
                rest["p95"],
                "ms",
                target,
                "max" if target else None,
            )
            result.add(
                f"{role}_{key}_service_p95_ms", f"{role}: {key} via JobsService, p95", service["p95"], "ms"
            )
    result.add("table_mb", "table per million jobs", size["table_mb_per_million"], "MB")
    result.add("indexes_mb", "indexes per million jobs", size["indexes_mb_per_million"], "MB")
    result.add("total_mb", "table + indexes + TOAST per million", size["total_mb_per_million"], "MB")
    result.add("load_s", f"bulk load of {n:,} jobs", result.details["load_seconds"], "s")
    return result
