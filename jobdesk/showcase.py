"""A throwaway installation for the screenshots: its own database, Redis namespace and data directory.

A composition module (it may reach the store, which the ui may not). It hands
the screenshot renderer an embedded connector whose workers run the built-in
job types on copies of the committed example inputs, and it backfills an
hour of finished jobs (two finished batches among them) so that the
throughput chart and the Batches tab have a past to show. It also creates
batches as `POST /api/jobs/batch` would, which the client does not offer.
Everything it makes is removed by `cleanup()`.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import tempfile
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis
from psycopg.conninfo import make_conninfo
from psycopg.types.json import Jsonb

from jobdesk.client.base import JobsClient
from jobdesk.config import load_settings
from jobdesk.core.jobs import Job
from jobdesk.embedded import CONSOLE_ORG, EmbeddedClient, EmbeddedConnector
from jobdesk.store.db import drop_database

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

# What an hour of a small team's jobs looks like: (type, queue, name pattern, share, typical seconds).
HISTORY = [
    ("data-conversion", "data-conversion", "Convert orders-2026-11-{n:02d}.csv to JSONL", 0.34, 2.0),
    ("document-processing", "document-processing", "Index support docs, batch {n}", 0.22, 6.0),
    ("bulk-operation", "bulk-operation", "Normalize customer rows, shard {n}", 0.20, 3.0),
    ("model-training", "model-training", "Train churn model v{n}", 0.10, 25.0),
    ("fine-tuning", "fine-tuning", "Fine-tune churn model on week {n}", 0.06, 12.0),
    ("workflow-execution", "workflow-execution", "Nightly customer pipeline #{n}", 0.08, 40.0),
]
FAILURES = [
    ("FileNotFoundError", "input file 'exports/orders-2026-11-{n:02d}.csv' not found in the data directory"),
    ("ValueError", "row 214: column 'lifetimeValue' is not a number: 'n/a'"),
    ("TimeoutError", "embedding batch 3 of 12 took longer than 30 s"),
]
# Batches posted through the API earlier in the hour, all finished by now:
# (user, type, name pattern, jobs, how many failed, minutes ago, typical seconds, index in FAILURES).
PAST_BATCHES = [
    ("ops-bot", "data-conversion", "Convert orders-2026-11-{n:02d}.csv to JSONL", 30, 0, 52, 2.0, 0),
    ("devon", "document-processing", "Index support docs, part {n} of 24", 24, 2, 34, 6.0, 2),
]


class ScratchConnector(EmbeddedConnector):
    """Connects like `jobdesk gui` would, to an installation that exists only for this run."""

    def __init__(self, workers: int = 2, threads: int = 4) -> None:
        tag = uuid.uuid4().hex[:8]
        base = load_settings()
        self.data_dir = Path(tempfile.mkdtemp(prefix="jobdesk-screens-"))
        shutil.copytree(EXAMPLES / "data", self.data_dir / "examples" / "data")
        settings = load_settings(
            database_url=make_conninfo(base.database_url, dbname=f"jobdesk_screens_{tag}"),
            namespace=f"jobdesk-screens-{tag}",
            data_dir=self.data_dir,
            api_port=0,
            ws_port=0,
        )
        super().__init__(settings, workers=workers, threads=threads)

    async def prepare(self, client: JobsClient, jobs: int = 1400) -> None:
        """Backfill an hour of finished jobs (with their attempts) straight into the scratch database."""
        assert isinstance(client, EmbeddedClient)
        now = datetime.now(UTC)
        batches, batch_rows = past_batches(now)
        async with client.engine.pool.connection() as conn, conn.cursor() as cur:
            await cur.executemany(
                """
                INSERT INTO batches (id, user_id, organization_id, total, created_at, completed_at)
                VALUES (%(id)s, %(user)s, 'default', %(total)s, %(created)s, %(completed)s)
                """,
                batches,
            )
            await cur.executemany(
                """
                INSERT INTO jobs (type, name, queue, status, data, result, error, attempts, max_attempts,
                                  progress_current, progress_total, user_id, organization_id, batch_id,
                                  created_at, updated_at, started_at, completed_at, attempt_log)
                VALUES (%(type)s, %(name)s, %(queue)s, %(status)s, %(data)s, %(result)s, %(error)s,
                        %(attempts)s, 3, %(total)s, %(total)s, %(user)s, 'default', %(batch)s,
                        %(created)s, %(completed)s, %(started)s, %(completed)s, %(log)s)
                """,
                history(jobs, now) + batch_rows,
            )

    async def create_batch(self, client: JobsClient, user: str, specs: Sequence[dict[str, Any]]) -> list[Job]:
        """Jobs made together by an API user of the console's organization, as `POST /api/jobs/batch` does."""
        assert isinstance(client, EmbeddedClient)
        return (await client.service.create_batch(user, CONSOLE_ORG, list(specs))).items

    async def cleanup(self) -> None:
        await asyncio.to_thread(self._remove)

    def _remove(self) -> None:
        drop_database(self.base.database_url)
        client = redis.Redis.from_url(self.base.redis)
        keys = list(client.scan_iter(match=f"{self.base.namespace}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def history(count: int, now: datetime, seed: int = 7) -> list[dict[str, Any]]:
    """Finished jobs spread over the last hour, busier lately; about one in fourteen failed."""
    rng = random.Random(seed)
    weights = [h[3] for h in HISTORY]
    out = []
    for n in range(count):
        job_type, queue, pattern, _, typical = rng.choices(HISTORY, weights)[0]
        ago = 3600 * (1 - rng.random() ** 0.8)
        created = now - timedelta(seconds=ago)
        started = created + timedelta(seconds=rng.uniform(0.05, 1.5))
        completed = started + timedelta(seconds=rng.lognormvariate(0, 0.5) * typical)
        if completed > now:  # still running a minute ago: it finished just now instead
            completed = now - timedelta(seconds=1)
            started = min(started, completed - timedelta(seconds=0.5))
        failed = rng.random() < 0.07
        attempts = 3 if failed else (2 if rng.random() < 0.04 else 1)
        failure = rng.choice(FAILURES) if failed else None
        out.append(
            _finished(
                job_type,
                queue,
                pattern.format(n=n % 30 + 1),
                rng.choice(["maria", "devon", "sasha", "ops-bot"]),
                (created, started, completed),
                attempts,
                (failure[0], failure[1].format(n=n % 30 + 1)) if failure else None,
            )
        )
    return out


def past_batches(now: datetime, seed: int = 11) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """PAST_BATCHES as batch rows and their finished jobs, run eight at a time as two workers would."""
    rng = random.Random(seed)
    batches: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for user, job_type, pattern, count, failures, minutes, typical, why in PAST_BATCHES:
        batch_id = uuid.uuid4()
        created = now - timedelta(minutes=minutes)
        failing = set(rng.sample(range(count), failures))
        free = [created] * 8  # when each of the eight threads is next free
        for n in range(count):
            slot = min(range(len(free)), key=free.__getitem__)
            started = free[slot] + timedelta(seconds=rng.uniform(0.05, 0.4))
            completed = started + timedelta(seconds=rng.lognormvariate(0, 0.3) * typical)
            free[slot] = completed
            kind, message = FAILURES[why]
            row = _finished(
                job_type,
                job_type,
                pattern.format(n=n + 1),
                user,
                (created, started, completed),
                3 if n in failing else 1,
                (kind, message.format(n=n + 1)) if n in failing else None,
            )
            rows.append({**row, "batch": batch_id})
        batches.append(
            {"id": batch_id, "user": user, "total": count, "created": created, "completed": max(free)}
        )
    return batches, rows


def _finished(
    job_type: str,
    queue: str,
    name: str,
    user: str,
    times: tuple[datetime, datetime, datetime],
    attempts: int,
    failure: tuple[str, str] | None,
) -> dict[str, Any]:
    """A row for the backfill: a job that completed, or failed its last attempt with `failure`."""
    created, started, completed = times
    error = {"message": failure[1], "stack": _stack(*failure)} if failure else None
    log = [
        {
            "attempt": a + 1,
            "worker": f"ops-{1 + a % 2}:{4100 + a}",
            "startedAt": started.isoformat(),
            "endedAt": completed.isoformat(),
            "outcome": "failed" if (failure or a < attempts - 1) else "completed",
            "error": error["message"] if error and a == attempts - 1 else None,
        }
        for a in range(attempts)
    ]
    return {
        "type": job_type,
        "queue": queue,
        "name": name,
        "status": "failed" if failure else "completed",
        "data": Jsonb({}),
        "result": None if failure else Jsonb({"ok": True}),
        "error": Jsonb(error) if error else None,
        "attempts": attempts,
        "total": 100,
        "user": user,
        "batch": None,
        "created": created,
        "started": started,
        "completed": completed,
        "log": Jsonb(log),
    }


def _stack(kind: str, message: str) -> str:
    return (
        "Traceback (most recent call last):\n"
        '  File "jobdesk/dispatch/runtime.py", line 212, in run_handler\n'
        "    result = definition.handler(ctx, data)\n"
        f"{kind}: {message}\n"
    )
