"""The reconciler: nothing is lost, whatever a worker or Redis forgets.

Sweeps, safe to run on several servers at once (each claims its rows
with SKIP LOCKED, and every release is conditional on the dispatch token it
saw):
- active jobs whose worker stopped heart-beating are retried (the attempt
  counts) or failed when out of attempts;
- jobs dispatched but not started whose message Redis no longer holds are
  released for the dispatcher; and after `redispatch_after_s`, any that are
  still not started (a message stuck with a dead worker) are released too;
- pending jobs whose parent failed or was cancelled follow their dependency policy;
- batches whose every job finished are marked complete, which announces them once.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from jobdesk.config import Settings
from jobdesk.core.background import BackgroundLoop
from jobdesk.dispatch.sender import Outgoing, Sender
from jobdesk.store.jobs import JobStore
from jobdesk.store.sql import q

log = logging.getLogger(__name__)

# A message younger than this may still be on its way from the dispatcher's pipeline.
_LOST_CHECK_AFTER_S = 2.0


@dataclass
class ReconcileStats:
    orphans_recovered: int = 0
    lost_messages: int = 0
    stale_released: int = 0


class Reconciler(BackgroundLoop):
    task_name = "jobdesk-reconciler"

    def __init__(
        self, store: JobStore, sender: Sender, settings: Settings, on_release: object = None
    ) -> None:
        self.store = store
        self.sender = sender
        self.settings = settings
        self.stats = ReconcileStats()
        self.on_release = on_release
        self.interval_s = 1.0

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("reconcile round failed: %s", exc)

    async def run_once(self) -> None:
        released = await self.recover_orphans() + await self.release_lost()
        if released and callable(self.on_release):
            self.on_release()
        await self.store.execute("propagate_dependency_failures", {})
        await self.store.execute("complete_batches", {})

    async def recover_orphans(self) -> int:
        dead_after = self.settings.worker_dead_after_s
        async with self.store.pool.connection() as conn, conn.transaction():
            rows = await (await conn.execute(q("orphaned_active"), {"dead_after": dead_after})).fetchall()
            if not rows:
                return 0
            ids = [r["id"] for r in rows]
            done = await (await conn.execute(q("recover_orphans"), {"ids": ids})).fetchall()
        self.stats.orphans_recovered += len(done)
        log.warning("recovered %d jobs from workers that stopped", len(done))
        return len(done)

    async def release_lost(self) -> int:
        rows = await self.store.execute("stale_dispatched", {"older_than": _LOST_CHECK_AFTER_S})
        if not rows:
            return 0
        out = [Outgoing(str(r["id"]), "", r["queue"], r["dispatch_token"]) for r in rows]
        present = await self.sender.present(out)
        release = [
            (r["id"], r["dispatch_token"])
            for r, there in zip(rows, present, strict=True)
            if not there or r["age_s"] > self.settings.redispatch_after_s
        ]
        if not release:
            return 0
        done = await self.store.execute(
            "release_stale", {"ids": [i for i, _ in release], "tokens": [t for _, t in release]}
        )
        lost = sum(1 for there in present if not there)
        self.stats.lost_messages += lost
        self.stats.stale_released += len(done)
        log.warning("re-dispatching %d jobs whose messages were lost or stuck", len(done))
        return len(done)
