"""The scheduler: each schedule's ticks become jobs, exactly once, on any number of servers.

Every round (about twice a second) a server claims the schedules whose next
tick is due with `FOR UPDATE SKIP LOCKED`, and in that same transaction
inserts the tick's job and moves `next_run_at` past it. Another server either
skips the locked row or, once it commits, no longer finds it due: a tick
fires once. As a second guard each job carries the idempotency key
`schedule:<id>:<tick in UTC, ISO 8601>`, unique per organization, so even a
schedule whose `next_run_at` were moved back could not fire a tick twice.

A job is created up to one round ahead of its tick with the tick as its
runAt, so the dispatcher starts it on time rather than up to a round late.

Missed ticks (no server ran, or the schedule's round failed) are handled by
the schedule's `missedPolicy` when a server next claims it:
- `coalesce` (default): one run stands for all the missed ticks;
- `skip`: missed ticks are dropped (a tick up to SKIP_GRACE_S = 30 s late
  still runs), and the schedule resumes at its next tick;
- `all`: every missed tick runs, oldest first, at most the latest ALL_MAX = 100.
A disabled schedule misses nothing: enabling it starts from its next tick.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from jobdesk.config import Settings
from jobdesk.core.background import BackgroundLoop
from jobdesk.core.errors import InvalidInput
from jobdesk.core.prepare import Defaults
from jobdesk.core.registry import Registry
from jobdesk.service.cron import Cron, plan
from jobdesk.service.extras_sql import xq
from jobdesk.service.schedules import Schedule, job_for_tick, parse_job, row_to_schedule
from jobdesk.store.jobs import JobStore, new_job_params
from jobdesk.store.sql import q

log = logging.getLogger(__name__)

# Schedules claimed per transaction; a round repeats while it gets this many.
CLAIM_BATCH = 50


def tick_key(schedule_id: str, tick: datetime) -> str:
    return f"schedule:{schedule_id}:{tick.astimezone(UTC).isoformat()}"


@dataclass
class SchedulerStats:
    rounds: int = 0
    fired: int = 0  # jobs created for ticks
    dropped: int = 0  # missed ticks not run (skip, coalesce, or beyond the 'all' cap)
    duplicates: int = 0  # ticks whose job already existed (the idempotency key caught it)
    errors: int = 0  # ticks not fired because the schedule's job no longer validates


class Scheduler(BackgroundLoop):
    task_name = "jobdesk-scheduler"

    def __init__(
        self, store: JobStore, registry: Registry, settings: Settings, interval_s: float = 0.5
    ) -> None:
        self.store = store
        self.registry = registry
        self.defaults = Defaults(settings.backoff_base_s, settings.backoff_cap_s)
        self.interval_s = interval_s
        self.stats = SchedulerStats()

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Nothing was committed for a failed transaction: its ticks are still due.
                log.warning("scheduler round failed: %s", exc)
            await asyncio.sleep(self.interval_s)

    async def run_once(self) -> int:
        """Fire what is due now; returns the number of jobs created."""
        self.stats.rounds += 1
        fired = 0
        while True:
            params = {"lookahead_s": self.interval_s, "limit": CLAIM_BATCH}
            batch = 0
            async with self.store.pool.connection() as conn, conn.transaction():
                async with conn.cursor(row_factory=dict_row) as cur:
                    await cur.execute(xq("claim_due_schedules"), params)
                    rows = await cur.fetchall()
                for row in rows:
                    batch += await self._fire(conn, row_to_schedule(row), row["db_now"])
            # Counted once committed: a round cancelled by stop() rolls back its ticks.
            self.stats.fired += batch
            fired += batch
            if len(rows) < CLAIM_BATCH:
                return fired

    async def _fire(self, conn: psycopg.AsyncConnection[Any], s: Schedule, now: datetime) -> int:
        update: dict[str, Any] = {
            "id": uuid.UUID(s.id),
            "enabled": True,
            "last_run_at": None,
            "last_job_id": None,
            "last_error": None,
        }
        try:
            cron = Cron(s.cron, s.timezone)
        except InvalidInput as exc:
            # Stored before a tzdata or croniter change made it invalid: stop, and say why.
            log.warning("schedule %s (%s) disabled: %s", s.name, s.id, exc.message)
            await conn.execute(
                xq("advance_schedule"),
                {**update, "next_run_at": s.next_run_at, "enabled": False, "last_error": exc.message},
            )
            return 0
        p = plan(cron, s.missed_policy, s.next_run_at, now, self.interval_s)
        if p.dropped:
            self.stats.dropped += p.dropped
            log.info("schedule %s: %s missed tick(s) not run (%s)", s.name, p.dropped, s.missed_policy)
        fired = 0
        for tick in p.fire:
            try:
                spec = parse_job(s.job, runAt=tick, idempotencyKey=tick_key(s.id, tick))
                new = job_for_tick(spec, s.user_id, s.organization_id, self.registry, self.defaults)
            except InvalidInput as exc:
                # The type was removed or its schema changed: the tick is lost, and the console shows why.
                self.stats.errors += 1
                update["last_error"] = f"tick {tick.isoformat()}: {exc.message}"
                log.warning("schedule %s: %s", s.name, update["last_error"])
                break
            try:
                async with conn.transaction():  # a savepoint: a duplicate must not undo the others
                    row = await (await conn.execute(q("insert_job"), new_job_params(new))).fetchone()
            except psycopg.errors.UniqueViolation:
                self.stats.duplicates += 1
                continue
            assert row is not None
            fired += 1
            update["last_run_at"], update["last_job_id"] = tick, row["id"]
        await conn.execute(xq("advance_schedule"), {**update, "next_run_at": p.next_run_at})
        return fired
