"""What the job-count triggers (migration 0005) cost the write path, with the triggers on and off.

    .venv/bin/python -m benchmarks.trigger_cost [--jobs 200000] [--rounds 300] [--batch 2 --batch 64]

A database of its own with `--jobs` jobs loaded (benchmarks.dataset: the
indexes as large as in the scale scenario's table), then rounds of the
engine's own state changes, each in its own transaction as the engine runs
it: `insert_job` once per job, the dispatcher's `claim_ids`, then the
worker's writer's `start_jobs`, `progress_jobs` and `finish_jobs` for a
batch of jobs. Blocks of rounds alternate between the rollup triggers
enabled and disabled (`ALTER TABLE jobs DISABLE TRIGGER ...`), so that both
see the same table, cache and neighbours' load. Reported per statement: the
median and mean of the statement's own time and of its transaction with the
COMMIT, in ms, for each batch size. The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid
from collections import defaultdict
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from benchmarks.dataset import load_jobs
from benchmarks.env import ADMIN_URL
from jobdesk.dispatch.writer import Finish, finish_rows
from jobdesk.store import migrate
from jobdesk.store.db import drop_database
from jobdesk.store.sql import q

TRIGGERS = ("jobs_rollup_insert", "jobs_rollup_update", "jobs_rollup_delete")
STEPS = ("insert_job", "claim_ids", "start_jobs", "progress_jobs", "finish_jobs")


def _new_job(i: int) -> dict[str, Any]:
    return {
        "type": "bench.noop",
        "name": f"bench.noop #{i}",
        "description": None,
        "queue": "bench.noop",
        "priority": 0,
        "data": Jsonb({"i": i}),
        "max_attempts": 3,
        "backoff_base_ms": 1000,
        "backoff_cap_ms": 300000,
        "user_id": "user-0-0",
        "organization_id": f"org-{i % 10}",
        "run_at": None,
        "depends_on": [],
        "idempotency_key": None,
        "dependency_policy": "fail",
        "parent_id": None,
        "batch_id": None,
        "notify": None,
    }


def _timed(conn: psycopg.Connection[Any], sql: str, params: dict[str, Any]) -> tuple[float, float, list]:
    """(statement ms, statement + COMMIT ms, rows) of one statement in its own transaction."""
    t0 = time.perf_counter()
    with conn.transaction():
        cur = conn.execute(sql, params)
        rows = cur.fetchall() if cur.description else []
        t1 = time.perf_counter()
    t2 = time.perf_counter()
    return (t1 - t0) * 1000, (t2 - t0) * 1000, rows


def one_round(conn: psycopg.Connection[Any], batch: int, seq: int) -> dict[str, tuple[float, float]]:
    """A batch through insert, claim, start, progress, finish: per step (statement ms, with commit ms)."""
    out: dict[str, list[tuple[float, float]]] = defaultdict(list)
    ids = []
    for i in range(batch):
        s, c, rows = _timed(conn, q("insert_job"), _new_job(seq * batch + i))
        out["insert_job"].append((s, c))
        ids.append(rows[0][0])
    s, c, rows = _timed(conn, q("claim_ids"), {"ids": ids})
    out["claim_ids"].append((s, c))
    tokens = {r[0]: r[3] for r in rows}
    toks = [tokens[i] for i in ids]
    common = {"ids": ids, "tokens": toks, "worker_id": "bench-host:1:trigger-cost"}
    s, c, _ = _timed(conn, q("start_jobs"), {**common, "ages": [0.0] * batch})
    out["start_jobs"].append((s, c))
    progress = {"currents": [50] * batch, "totals": [100] * batch, "messages": ["half way"] * batch}
    s, c, _ = _timed(conn, q("progress_jobs"), {**common, **progress})
    out["progress_jobs"].append((s, c))
    outcomes = [
        Finish(str(i), t, "completed", result={"ok": True}, progress=(100, 100, "done"), ran_for_s=0.01)
        for i, t in zip(ids, toks, strict=True)
    ]
    finish = {"rows": finish_rows(outcomes)}
    s, c, _ = _timed(conn, q("finish_jobs"), {**common, **finish})
    out["finish_jobs"].append((s, c))
    # insert_job: the mean over the batch's single inserts
    return {k: (statistics.fmean(a for a, _ in v), statistics.fmean(b for _, b in v)) for k, v in out.items()}


def set_triggers(conn: psycopg.Connection[Any], enabled: bool) -> None:
    verb = "ENABLE" if enabled else "DISABLE"
    for name in TRIGGERS:
        conn.execute(f"ALTER TABLE jobs {verb} TRIGGER {name}")


def measure(url: str, batch: int, rounds: int, block: int) -> dict[str, Any]:
    samples: dict[str, dict[str, list[tuple[float, float]]]] = {
        "on": defaultdict(list),
        "off": defaultdict(list),
    }
    seq = 0
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET jit = off")
        done = 0
        mode = "on"
        while done < rounds * 2:
            set_triggers(conn, mode == "on")
            for r in range(block + 1):
                seq += 1
                got = one_round(conn, batch, seq)
                if r == 0:
                    continue  # first round after the ALTER: plans are made again
                for step, value in got.items():
                    samples[mode][step].append(value)
                done += 1
            mode = "off" if mode == "on" else "on"
        set_triggers(conn, True)
    out: dict[str, Any] = {}
    for step in STEPS:
        row: dict[str, Any] = {}
        for mode in ("on", "off"):
            stmt = [a for a, _ in samples[mode][step]]
            txn = [b for _, b in samples[mode][step]]
            row[mode] = {
                "n": len(stmt),
                "statement_median_ms": round(statistics.median(stmt), 3),
                "statement_mean_ms": round(statistics.fmean(stmt), 3),
                "with_commit_median_ms": round(statistics.median(txn), 3),
                "with_commit_mean_ms": round(statistics.fmean(txn), 3),
            }
        on, off = row["on"], row["off"]
        row["statement_median_delta_ms"] = round(on["statement_median_ms"] - off["statement_median_ms"], 3)
        row["with_commit_median_ratio"] = round(on["with_commit_median_ms"] / off["with_commit_median_ms"], 3)
        out[step] = row
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.trigger_cost", description=__doc__.splitlines()[0])
    p.add_argument("--jobs", type=int, default=200_000, help="jobs loaded first (default 200,000)")
    p.add_argument("--rounds", type=int, default=300, help="rounds per mode and batch size (default 300)")
    p.add_argument("--block", type=int, default=25, help="rounds between switching the triggers")
    p.add_argument("--batch", type=int, action="append", help="jobs per round (default: 2 and 64)")
    p.add_argument("--out", help="also write the results here as JSON")
    args = p.parse_args(argv)
    url = f"{ADMIN_URL}/jobdesk_trigger_cost_{uuid.uuid4().hex[:8]}"
    results: dict[str, Any] = {"jobs": args.jobs, "rounds": args.rounds}
    try:
        migrate.upgrade(url)
        results["load_seconds"] = round(load_jobs(url, args.jobs, pending_share=0.0, active=0), 1)
        for batch in args.batch or [2, 64]:
            results[f"batch_{batch}"] = got = measure(url, batch, args.rounds, args.block)
            print(f"batch of {batch}: statement median ms (triggers on / off), with commit on / off")
            for step, row in got.items():
                on, off = row["on"], row["off"]
                print(
                    f"  {step:14} {on['statement_median_ms']:7.3f} / {off['statement_median_ms']:7.3f}"
                    f"   {on['with_commit_median_ms']:7.3f} / {off['with_commit_median_ms']:7.3f}"
                    f"   (x{row['with_commit_median_ratio']})"
                )
    finally:
        drop_database(url)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
