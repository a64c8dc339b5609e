"""Bulk-loading a realistic job history straight into PostgreSQL.

One `INSERT ... SELECT generate_series` per chunk, with every index of the
schema in place (as a table that grew job by job would have them). The mix:
newest 2 % pending, a handful active, the rest finished (90 % completed, 6 %
failed, 4 % cancelled); six job types of unequal weight; ten organizations
(two large, eight small) of five users each; created over the last 30 days.
"""

from __future__ import annotations

import time

import psycopg

ORGS = 10
# Organization of job i: org-0 40 %, org-1 20 %, org-2..org-9 5 % each.
_ORG_OF = "CASE WHEN h %% 100 < 40 THEN 0 WHEN h %% 100 < 60 THEN 1 ELSE 2 + (h %% 100 - 60) / 5 END"
TYPES = (
    ("data-conversion", 30),
    ("document-processing", 25),
    ("workflow-execution", 20),
    ("model-training", 10),
    ("bench.noop", 10),
    ("fine-tuning", 5),
)
ACTIVE = 16
CHUNK = 100_000


def _type_case() -> str:
    arms, upto = [], 0
    for name, weight in TYPES:
        upto += weight
        arms.append(f"WHEN (h / 100) %% 100 < {upto} THEN '{name}'")
    return "CASE " + " ".join(arms) + " END"


_INSERT = f"""
INSERT INTO jobs (type, name, queue, status, priority, data, progress_current, progress_total,
                  progress_message, result, error, attempts, max_attempts, user_id, organization_id,
                  created_at, updated_at, started_at, completed_at, run_at, dispatch_token, worker_id,
                  attempt_log)
SELECT t, t || ' #' || i, t, st,
       CASE WHEN h %% 97 < 5 THEN 10 WHEN h %% 97 = 5 THEN -5 ELSE 0 END,
       jsonb_build_object('input', 'inputs/file-' || i || '.csv', 'rows', h %% 5000),
       CASE WHEN st = 'completed' THEN 100 WHEN st = 'active' THEN 40 ELSE h %% 100 END,
       CASE WHEN st = 'pending' THEN 0 ELSE 100 END,
       CASE WHEN st IN ('completed', 'active') THEN 'step ' || (h %% 9 + 1) || ' of 9' END,
       CASE WHEN st = 'completed'
            THEN jsonb_build_object('rows', h %% 5000, 'output', 'out/' || i || '.json') END,
       CASE WHEN st IN ('failed', 'cancelled') THEN jsonb_build_object(
           'message', CASE st WHEN 'failed' THEN 'ValueError: bad value in row ' || (h %% 5000)
                              ELSE 'cancelled' END,
           'type', 'ValueError',
           'stack', CASE st WHEN 'failed'
                    THEN repeat('  File "handler.py", line 42, in run' || chr(10), 8) END)
       END,
       CASE st WHEN 'pending' THEN 0 WHEN 'failed' THEN 3 ELSE 1 END, 3,
       'user-' || org || '-' || (h %% 5), 'org-' || org,
       c, COALESCE(fin, s, c), s, fin, c,
       CASE st WHEN 'pending' THEN 0 WHEN 'failed' THEN 3 ELSE 1 END,
       CASE WHEN st <> 'pending' THEN 'bench-host:4242:abc123' END,
       CASE WHEN fin IS NOT NULL THEN jsonb_build_array(jsonb_build_object(
           'attempt', 1, 'worker', 'bench-host:4242:abc123', 'startedAt', s, 'endedAt', fin,
           'outcome', st, 'error', NULL)) ELSE '[]'::jsonb END
FROM (
    SELECT i, h, {_ORG_OF} AS org, t, st, c,
           CASE WHEN st <> 'pending' THEN c + interval '50 milliseconds' END AS s,
           CASE WHEN st IN ('completed', 'failed', 'cancelled')
                THEN c + interval '50 milliseconds' + make_interval(secs => (h %% 5000) / 1000.0) END AS fin
    FROM (
        SELECT i, h, {_type_case()} AS t,
               CASE WHEN i >= %(first_active)s THEN 'active'
                    WHEN i >= %(first_pending)s THEN 'pending'
                    WHEN (h / 10000) %% 100 < 90 THEN 'completed'
                    WHEN (h / 10000) %% 100 < 96 THEN 'failed'
                    ELSE 'cancelled' END AS st,
               now() - interval '30 days' * (1 - i::float8 / %(n)s) AS c
        FROM (SELECT i, (i * 2654435761::bigint) %% 1000003 AS h
              FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS i) g
        OFFSET 0
    ) x
    OFFSET 0
) y
"""


def load_jobs(
    url: str, n: int, *, pending_share: float = 0.02, active: int = ACTIVE, progress: bool = False
) -> float:
    """Insert n jobs (ids 1..n in creation order); returns the seconds it took, VACUUM ANALYZE included.

    The secondary indexes are dropped for the load and built again afterwards
    from their own definitions (pg_indexes): ten times faster than maintaining
    them row by row, and the same indexes. Built indexes are denser than ones
    grown by random inserts, so sizes read here are a lower bound (by ~10-30 %).
    """
    first_pending = int(n * (1 - pending_share)) + 1
    first_active = n - min(active, n // 10) + 1
    t0 = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '256MB'")
        conn.execute("SET jit = off")
        indexes = conn.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i"
            " WHERE i.schemaname = current_schema() AND i.tablename = 'jobs'"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
        ).fetchall()
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        try:
            for lo in range(1, n + 1, CHUNK):
                hi = min(n, lo + CHUNK - 1)
                params = {
                    "lo": lo,
                    "hi": hi,
                    "n": n,
                    "first_pending": first_pending,
                    "first_active": first_active,
                }
                conn.execute(_INSERT, params, prepare=False)
                if progress:
                    print(f"  loaded {hi:,} jobs ({time.perf_counter() - t0:.0f} s)", flush=True)
        finally:
            for _, definition in indexes:
                conn.execute(definition)
        if progress:
            print(f"  indexes built ({time.perf_counter() - t0:.0f} s)", flush=True)
        conn.execute("VACUUM ANALYZE jobs")
    return time.perf_counter() - t0
