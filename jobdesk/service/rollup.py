"""Compaction of the job-count rollup: folds the triggers' deltas into the totals.

The triggers of migration 0005 append one delta row per job-changing
statement; reads sum totals and deltas, so counts are exact whether or not
this runs. It only keeps the delta table short, and so the reads fast: once
a second, `jobs_rollup_compact()` moves every committed delta into the
totals in one transaction. Several servers may run it; one at a time does
the work (an advisory lock), the others skip that round.
"""

from __future__ import annotations

import asyncio
import logging

from jobdesk.core.background import BackgroundLoop
from jobdesk.store.jobs import JobStore

log = logging.getLogger(__name__)

COMPACT_INTERVAL_S = 1.0


class RollupCompactor(BackgroundLoop):
    task_name = "jobdesk-rollup-compactor"

    def __init__(self, store: JobStore, interval_s: float = COMPACT_INTERVAL_S) -> None:
        self.store = store
        self.interval_s = interval_s
        self.folded = 0

    async def run_once(self) -> int:
        """Deltas folded into the totals; -1 when another server was compacting."""
        rows = await self.store.execute("compact_job_counts", {})
        folded = int(rows[0]["folded"]) if rows else 0
        if folded > 0:
            self.folded += folded
        return folded

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the next round folds what this one left
                log.warning("job-count compaction failed: %s", exc)
            await asyncio.sleep(self.interval_s)
