"""The notifier: finished jobs in, emails and webhook posts out, through an outbox.

Three tasks on the server's loop, none of them in a job's path:
- enqueue: job-completed / job-failed events from the hub become outbox rows
  (one INSERT ... ON CONFLICT DO NOTHING for a burst, so of several servers
  hearing the same event exactly one row is written);
- sweep: finished jobs that should have rows and do not, because no server
  was running when they ended or the listener reconnected: the last hour at
  start-up and after a reconnect, the last ten minutes every five minutes;
- deliver: due rows are claimed with SKIP LOCKED and leased for LEASE_S, sent,
  then marked sent, retried with exponential backoff (a 429's Retry-After is
  honoured) or failed: at once when retrying cannot help (a 4xx, a 5xx from
  SMTP), or after `max_attempts`. A server that dies mid-send leaves the row
  leased; another sends it once the lease ends (so a crash at the wrong moment
  can send twice: at least once, never lost).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable, Coroutine
from typing import Any

from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from jobdesk.config import Settings
from jobdesk.core.backoff import retry_delay
from jobdesk.core.events import EventName, JobEvent
from jobdesk.core.jobs import Job, JobStatus
from jobdesk.service.events import EventHub
from jobdesk.service.extras_sql import fetch, xq
from jobdesk.service.notify_send import Channels, SendFailed
from jobdesk.store.jobs import JobStore

log = logging.getLogger(__name__)

LEASE_S = 60.0  # longer than any send may take (notify_send.TIMEOUT_S)
CLAIM_BATCH = 50
SEND_CONCURRENCY = 16
SWEEP_LIMIT = 1000

_FINISHED = {JobStatus.COMPLETED, JobStatus.FAILED}
_ENDS = {EventName.COMPLETED, EventName.FAILED}
_BY_IDS = "(SELECT * FROM jobs WHERE id = ANY(%(ids)s) AND status IN ('completed', 'failed'))"
# Only jobs that may want something: those with their own targets or a type with rules.
_RECENT = """(
    SELECT * FROM jobs
    WHERE completed_at > now() - make_interval(secs => %(window_s)s)
      AND status IN ('completed', 'failed')
      AND (notify IS NOT NULL OR EXISTS (
            SELECT 1 FROM notification_rules r
            WHERE r.organization_id = jobs.organization_id AND r.job_type = jobs.type AND r.enabled)))"""


class Notifier:
    def __init__(
        self,
        store: JobStore,
        settings: Settings,
        hub: EventHub | None = None,
        *,
        max_attempts: int = 8,
        backoff_base_s: float = 5.0,
        backoff_cap_s: float = 900.0,
        poll_s: float = 0.5,
        catch_up_s: float = 3600.0,
    ) -> None:
        self.store = store
        self.hub = hub
        self.channels = Channels(settings)
        self.max_attempts = max_attempts
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self.poll_s = poll_s
        self.catch_up_s = catch_up_s
        self.periodic_sweep_s = 300.0
        # (channel, outcome) -> count; outcome is sent, retry or failed. Read by metrics.
        self.stats: Counter[tuple[str, str]] = Counter()
        self._ended: dict[str, Job] = {}
        self._ended_ready = asyncio.Event()
        self._due = asyncio.Event()
        self._sweep_wanted = asyncio.Event()
        self._send_slots = asyncio.Semaphore(SEND_CONCURRENCY)
        self._tasks: list[asyncio.Task[None]] = []
        self._unsubscribe: Callable[[], None] | None = None

    def start(self) -> None:
        if self.hub is not None:
            self._unsubscribe = self.hub.subscribe(self._on_events)
            self.hub.on_resync(self._sweep_wanted.set)
        self._sweep_wanted.set()  # what ended while no server ran
        for name, loop in (
            ("enqueue", self._enqueue_loop),
            ("sweep", self._sweep_loop),
            ("deliver", self._deliver_loop),
        ):
            self._tasks.append(asyncio.create_task(self._guard(name, loop), name=f"jobdesk-notify-{name}"))

    async def stop(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.channels.close()

    # -- enqueue --------------------------------------------------------------------------

    def _on_events(self, events: list[JobEvent]) -> None:
        for ev in events:
            if ev.name in _ENDS and ev.job.status in _FINISHED:
                self._ended[ev.job.id] = ev.job
        if self._ended:
            self._ended_ready.set()

    async def _enqueue_loop(self) -> None:
        while True:
            await self._ended_ready.wait()
            self._ended_ready.clear()
            jobs, self._ended = self._ended, {}
            try:
                await self.enqueue(list(jobs.values()))
            except Exception as exc:
                log.warning("could not queue notifications for %d jobs: %s", len(jobs), exc)
                self._sweep_wanted.set()

    async def enqueue(self, jobs: list[Job]) -> int:
        """Outbox rows for these finished jobs; returns how many were new."""
        if not jobs:
            return 0
        by_id = {j.id: j for j in jobs}
        wanted = await self._wanted(_BY_IDS, {"ids": list(by_id), "limit": SWEEP_LIMIT * 10})
        return await self._insert(wanted, by_id)

    async def sweep(self, window_s: float | None = None) -> int:
        """Catch up on recently finished jobs that have no outbox rows yet; returns rows added."""
        added = 0
        while True:
            params = {"window_s": window_s or self.catch_up_s, "limit": SWEEP_LIMIT}
            wanted = await self._wanted(_RECENT, params)
            if not wanted:
                return added
            ids = list(dict.fromkeys(str(w["job_id"]) for w in wanted))
            by_id = {j.id: j for j in await self.store.get_many(ids)}
            added += await self._insert(wanted, by_id)
            if len(wanted) < SWEEP_LIMIT:
                return added

    async def _wanted(self, jobs_sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        query = xq("notifications_wanted").replace("{jobs}", jobs_sql)
        async with self.store.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(query, params)
            return await cur.fetchall()

    async def _insert(self, wanted: list[dict[str, Any]], jobs: dict[str, Job]) -> int:
        rows = []
        for w in wanted:
            job = jobs.get(str(w["job_id"]))
            if job is None:
                continue  # deleted meanwhile
            data = job.to_api()
            # The job's other targets are not this receiver's business (a Slack URL is a secret).
            data.pop("notify", None)
            payload = {"event": f"job-{w['event']}", "data": data}
            rows.append({**w, "payload": Jsonb(payload)})
        if not rows:
            return 0
        async with self.store.pool.connection() as conn, conn.cursor() as cur:
            await cur.executemany(xq("insert_outbox"), rows)
            added = max(cur.rowcount, 0)
        if added:
            self._due.set()
        return added

    async def _sweep_loop(self) -> None:
        while True:
            await _wait(self._sweep_wanted, self.periodic_sweep_s)
            full = self._sweep_wanted.is_set()
            self._sweep_wanted.clear()
            try:
                added = await self.sweep(self.catch_up_s if full else 2 * self.periodic_sweep_s)
            except Exception as exc:
                log.warning("notification sweep failed: %s", exc)
                continue
            if added:
                log.info("queued %d notifications for jobs that ended unheard", added)

    # -- deliver --------------------------------------------------------------------------

    async def _deliver_loop(self) -> None:
        while True:
            await _wait(self._due, self.poll_s)
            self._due.clear()
            try:
                while await self.deliver_once() == CLAIM_BATCH:
                    pass
            except Exception as exc:
                log.warning("notification delivery round failed: %s", exc)

    async def deliver_once(self) -> int:
        """Claim and send what is due now; returns how many were attempted."""
        rows = await fetch(self.store.pool, "claim_outbox", {"limit": CLAIM_BATCH, "lease_s": LEASE_S})
        await asyncio.gather(*(self._deliver(r) for r in rows))
        return len(rows)

    async def _deliver(self, row: dict[str, Any]) -> None:
        channel, attempts = row["channel"], row["attempts"]
        status, error, delay = "sent", None, 0.0
        async with self._send_slots:
            try:
                await self.channels.send(channel, row["target"], row["payload"])
            except Exception as exc:
                if not isinstance(exc, SendFailed):  # a sender's bug: logged, then retried like a failure
                    log.exception("sending a %s notification failed", channel)
                failure = exc if isinstance(exc, SendFailed) else SendFailed(repr(exc))
                final = failure.permanent or attempts >= self.max_attempts
                status, error = ("failed" if final else "pending"), str(failure)[:1000]
                delay = 0.0 if final else self._delay(failure, attempts)
                log.warning(
                    "%s notification to %s for job %s, attempt %d: %s%s",
                    channel,
                    row["target"],
                    row["job_id"],
                    attempts,
                    error,
                    " (giving up)" if final else f" (again in {delay:.1f} s)",
                )
        self.stats[(channel, {"sent": "sent", "failed": "failed"}.get(status, "retry"))] += 1
        await fetch(
            self.store.pool,
            "outbox_done",
            {"id": row["id"], "attempts": attempts, "status": status, "error": error, "delay_s": delay},
        )

    def _delay(self, failure: SendFailed, attempts: int) -> float:
        delay = retry_delay(attempts, self.backoff_base_s, self.backoff_cap_s)
        if failure.retry_after_s:
            delay = max(delay, min(failure.retry_after_s, self.backoff_cap_s))
        return delay

    async def _guard(self, name: str, loop: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Keep a loop alive: an unexpected error is logged and the loop restarts after a pause."""
        while True:
            try:
                await loop()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("notifier %s loop failed; restarting", name)
                await asyncio.sleep(1.0)


async def _wait(event: asyncio.Event, timeout: float) -> None:
    """Until the event is set or the time is up.

    Not asyncio.wait_for: on Python 3.11 it swallows a cancellation that lands
    just as the event is set, and stop() then waits forever on a loop that
    never ends (fixed in 3.12; asyncio.timeout has no such race).
    """
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            await event.wait()
