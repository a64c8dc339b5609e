"""The dispatcher: strict priority across the whole backlog.

Jobs stay in PostgreSQL until a worker can take them. Each round it asks how
many messages the live workers can hold (threads x window), subtracts what is
already in flight, claims that many of the best runnable rows with
FOR UPDATE SKIP LOCKED (so several servers can run it at once) and sends
them through one Redis pipeline. It runs when woken (a job was created or
finished, a queue resumed) and on a short tick (run_at and backoff times).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from jobdesk.config import Settings
from jobdesk.core.background import BackgroundLoop
from jobdesk.dispatch import limits, window
from jobdesk.dispatch.sender import Outgoing, Sender
from jobdesk.store.jobs import JobStore
from jobdesk.store.sql import q

log = logging.getLogger(__name__)

# Completions the window's mean run times are taken from (the latest of the last 30 s).
DURATION_SAMPLE = 2000


@dataclass
class DispatchStats:
    rounds: int = 0
    dispatched: int = 0
    send_failures: int = 0
    recalled: int = 0
    held: dict[str, str] = field(default_factory=dict)


class Dispatcher(BackgroundLoop):
    task_name = "jobdesk-dispatcher"

    def __init__(self, store: JobStore, sender: Sender, settings: Settings) -> None:
        self.store = store
        self.sender = sender
        self.settings = settings
        self.stats = DispatchStats()
        self._wake = asyncio.Event()
        self._means: dict[str, float] = {}
        self._means_at = 0.0
        self._paused: set[str] | None = None
        self._workers: list[dict] = []
        self._workers_at = 0.0
        self._limits = False
        self._limits_at = 0.0
        self._held_at: dict[str, float] = {}
        self._last_round = 0.0
        # The highest priority the last non-empty round sent: a higher one is news.
        self._last_top = 0

    def wake(self) -> None:
        self._wake.set()

    def queues_changed(self) -> None:
        self._paused = None
        self._wake.set()

    async def _run(self) -> None:
        backoff = self.settings.dispatch_tick_s
        while True:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a
            # cancellation that lands as the event is set, and stop() then hangs.
            try:
                async with asyncio.timeout(self.settings.dispatch_tick_s):
                    await self._wake.wait()
            except TimeoutError:
                pass
            gap = self._last_round + self.settings.dispatch_min_gap_s - time.monotonic()
            if gap > 0:
                await asyncio.sleep(gap)
            self._wake.clear()
            self._last_round = time.monotonic()
            try:
                while await self.dispatch_once():
                    pass  # a full batch: there may be more room
                backoff = self.settings.dispatch_tick_s
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("dispatch round failed: %s", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _paused_queues(self) -> set[str]:
        if self._paused is None:
            rows = await self.store.execute("paused_queues", {})
            self._paused = {r["name"] for r in rows}
        return self._paused

    async def _live_workers(self) -> list[dict]:
        # Workers change on a scale of seconds; rounds can come hundreds a second.
        now = time.monotonic()
        if now - self._workers_at > 0.5:
            self._workers = await self.store.execute(
                "live_workers", {"dead_after": self.settings.worker_dead_after_s}
            )
            self._workers_at = now
        return self._workers

    async def _recent_means(self) -> dict[str, float]:
        now = time.monotonic()
        if now - self._means_at > 2.0:
            rows = await self.store.execute("recent_durations", {"sample": DURATION_SAMPLE})
            self._means = {r["queue"]: float(r["mean_s"]) for r in rows if r["mean_s"] is not None}
            self._means_at = now
        return self._means

    async def dispatch_once(self) -> bool:
        """One round; True if some group had more room than one batch (call again)."""
        self.stats.rounds += 1
        workers = await self._live_workers()
        if not workers:
            return False
        paused = await self._paused_queues()
        means = await self._recent_means()
        served = sorted({q for w in workers for q in w["queues"]})
        inflight = {
            r["queue"]: r["n"] for r in await self.store.execute("inflight_by_queue", {"queues": served})
        }
        # Workers serving the same queues share one window; in the usual case
        # (every worker serves every queue) that makes priority global.
        threads: dict[frozenset[str], int] = defaultdict(int)
        for w in workers:
            threads[frozenset(w["queues"])] += w["threads"]
        more = False
        for queues, n_threads in threads.items():
            runnable = sorted(queues - paused)
            if not runnable:
                continue
            recalled, below = await self._recall_for_priority(runnable)
            depth = window.per_thread(
                window.group_mean(means, queues),
                self.settings.dispatch_window_s,
                self.settings.dispatch_window_max,
            )
            free = n_threads * depth - sum(inflight.get(q, 0) for q in queues) + recalled
            if free <= 0:
                continue
            limit = min(free, self.settings.dispatch_batch_max)
            sent = await self._claim_and_send(runnable, limit, head_above=below)
            # Call again only when the batch size, not the window, stopped us:
            # a full window has no room until jobs finish, and they wake us.
            more = more or (sent >= limit and free > limit)
        return more

    async def _recall_for_priority(self, queues: list[str]) -> tuple[int, int | None]:
        """Make way for urgent jobs: take back every less urgent message still queued.

        Redis delivers in order and a worker holds up to its prefetch ahead of
        anything new, so an urgent job sent behind them waits for all of them.
        Recalling bumps their tokens: workers skip what they already fetched
        (the revocation reaches their start check) and the jobs are runnable
        again, to be sent after the urgent ones, which go to the head of their
        queue. What overtakes an urgent job is then what threads had started.
        Returns how many were recalled and the highest priority among them.
        """
        best = await self.store.execute("best_runnable_priority", {"queues": queues})
        if not best:
            return 0, None
        recalled, below = await self._recall_below(queues, best[0]["priority"])
        return len(recalled), below

    async def _recall_below(self, queues: list[str], top: int) -> tuple[set[Any], int | None]:
        """Recall every queued message less urgent than `top`: their ids, and their highest priority."""
        victims = await self.store.execute(
            "queued_priorities", {"queues": queues, "below": top, "limit": self.settings.dispatch_batch_max}
        )
        if not victims:
            return set(), None
        rows = await self.store.execute("recall", {"ids": [v["id"] for v in victims]})
        self.stats.recalled += len(rows)
        return {r["id"] for r in rows}, max(v["priority"] for v in victims)

    async def _has_limits(self) -> bool:
        now = time.monotonic()
        if now - self._limits_at > 1.0:
            self._limits = bool(await self.store.execute("rate_limits", {}))
            self._limits_at = now
        return self._limits

    async def _claim_and_send(self, queues: list[str], limit: int, head_above: int | None = None) -> int:
        if await self._has_limits():
            rows = await self._claim_limited(queues, limit)
        else:
            rows = await self.store.execute("claim_runnable", {"queues": queues, "limit": limit})
        if not rows:
            return 0
        # RETURNING has no order; Redis delivers in the order we push.
        rows.sort(key=lambda r: (-r["priority"], r["created_at"]))
        top = rows[0]["priority"]
        if head_above is None and (top > self._last_top or top > rows[-1]["priority"]):
            # A more urgent job than the last rounds sent was created during
            # this round, after the recall step looked: recall now, so that it
            # goes ahead of what is queued (this batch's less urgent rows too).
            recalled, head_above = await self._recall_below(queues, top)
            rows = [r for r in rows if r["id"] not in recalled]
        self._last_top = top
        out = [Outgoing(str(r["id"]), r["type"], r["queue"], r["dispatch_token"]) for r in rows]
        urgent = 0 if head_above is None else sum(1 for r in rows if r["priority"] > head_above)
        try:
            await self.sender.send(out[urgent:])
            await self.sender.send(out[:urgent], head=True)
        except Exception as exc:
            self.stats.send_failures += 1
            await self.store.execute("release_dispatch", {"ids": [r["id"] for r in rows]})
            raise RuntimeError(f"could not send {len(out)} messages to Redis: {exc}") from exc
        self.stats.dispatched += len(out)
        return len(out)

    async def _claim_limited(self, queues: list[str], limit: int) -> list[dict[str, Any]]:
        """The claim when rate limits exist: one transaction that locks the limits.

        Holding the limit rows while reading in-flight counts and claiming is
        what makes the limits hold across servers: another dispatcher waits
        for this commit and then sees what this round took.
        """
        async with self.store.pool.connection() as conn, conn.transaction():
            rows = await (await conn.execute(q("lock_rate_limits"))).fetchall()
            budgets = {
                (r["scope"], r["key"]): limits.Budget(r["per_second"], r["max_concurrent"], r["tokens"])
                for r in rows
            }
            if any(b.max_concurrent for b in budgets.values()):
                for r in await (await conn.execute(q("inflight_by_type_and_org"))).fetchall():
                    for key in (("type", r["type"]), ("organization", r["organization_id"])):
                        if key in budgets:
                            budgets[key].inflight += r["n"]
            candidates = await (
                await conn.execute(q("runnable_candidates"), {"queues": queues, "limit": limit * 4})
            ).fetchall()
            choice = limits.choose(candidates, budgets, limit)
            claimed = []
            if choice.ids:
                claimed = await (await conn.execute(q("claim_ids"), {"ids": choice.ids})).fetchall()
                taken: Counter[limits.Key] = Counter()
                for r in claimed:
                    for key in limits.keys_of(r):
                        if key in budgets:
                            taken[key] += 1
                if taken:
                    await conn.execute(
                        q("take_tokens"),
                        {
                            "scopes": [k[0] for k in taken],
                            "keys": [k[1] for k in taken],
                            "counts": list(taken.values()),
                        },
                    )
        await self._report_held(choice.held)
        return claimed

    async def _report_held(self, held: dict[str, str]) -> None:
        """Tell the console why a queue waits; written only when the reason changes."""
        now = time.monotonic()
        for queue, reason in held.items():
            if self.stats.held.get(queue) != reason or now - self._held_at.get(queue, 0) > 2.0:
                await self.store.execute("set_held", {"name": queue, "reason": reason})
                self._held_at[queue] = now
        self.stats.held = dict(held)
