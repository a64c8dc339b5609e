"""Prometheus metrics for `/metrics`, in the text format, with the official client.

A registry of our own (not the client's global one, which would mix in any
other code's metrics and break when two engines share a process). Gauges
read the database, at most once per `refresh_s` however often it is scraped
(several scrapers share one refresh); durations are observed from the hub's
completion events as they happen.

- jobdesk_jobs{status,type}: jobs in the database by status and type
- jobdesk_queue_depth{queue}: pending jobs that may run now; jobdesk_queue_scheduled{queue}:
  pending jobs waiting for their runAt or retry time; jobdesk_queue_active{queue}

  These counts come from the job-count rollup (migration 0005), not from
  counting the jobs table; only the pending jobs waiting for their time are
  counted, through an index that holds no others (metrics_job_counts).
- jobdesk_job_duration_seconds{type,status}: run time of completed and failed jobs
- jobdesk_workers, jobdesk_worker_threads, jobdesk_worker_busy_threads: live workers
- jobdesk_dispatch_lag_seconds: how long the longest-waiting runnable job has waited
- jobdesk_schedule_runs_total, jobdesk_notifications_total{channel,outcome}: this server's work

Each server observes every job's end (every hub hears every event), so scrape
one server for the durations, or take the max over servers, not the sum.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from jobdesk.config import Settings
from jobdesk.core.events import EventName, JobEvent
from jobdesk.service.events import EventHub
from jobdesk.service.extras_sql import fetch
from jobdesk.store.jobs import JobStore

if TYPE_CHECKING:
    from jobdesk.service.notifier import Notifier
    from jobdesk.service.scheduler import Scheduler

log = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_LATEST
DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200)
_ENDS = {EventName.COMPLETED, EventName.FAILED}


@dataclass
class Snapshot:
    """What the gauges show: the last successful read of the database."""

    jobs: dict[tuple[str, str], int] = field(default_factory=dict)  # (status, type)
    depth: dict[str, int] = field(default_factory=dict)
    scheduled: dict[str, int] = field(default_factory=dict)
    active: dict[str, int] = field(default_factory=dict)
    workers: int = 0
    threads: int = 0
    busy: int = 0
    lag_s: float = 0.0
    taken_at: float = 0.0  # time.monotonic(); 0: never


class Metrics:
    def __init__(
        self,
        store: JobStore,
        settings: Settings,
        hub: EventHub | None = None,
        *,
        refresh_s: float = 5.0,
        counters: Callable[[], Iterator[Metric]] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.hub = hub
        self.refresh_s = refresh_s
        self.snapshot = Snapshot()
        self.refresh_failures = 0
        self.registry = CollectorRegistry(auto_describe=False)
        self.durations = Histogram(
            "jobdesk_job_duration_seconds",
            "Run time of finished jobs (last attempt), by type and final status.",
            ["type", "status"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_SnapshotCollector(self, counters))
        self._lock = asyncio.Lock()
        self._unsubscribe: Callable[[], None] | None = None

    def start(self) -> None:
        if self.hub is not None:
            self._unsubscribe = self.hub.subscribe(self.observe)

    def stop(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()
            self._unsubscribe = None

    def observe(self, events: list[JobEvent]) -> None:
        for ev in events:
            took = ev.job.duration_s
            if ev.name in _ENDS and took is not None and took >= 0:
                self.durations.labels(ev.job.type, ev.job.status.value).observe(took)

    async def refresh(self, force: bool = False) -> None:
        """Re-read the gauges if the snapshot is older than refresh_s; a failure keeps the old one."""
        async with self._lock:
            if not force and time.monotonic() - self.snapshot.taken_at < self.refresh_s:
                return
            try:
                self.snapshot = await self._read()
            except Exception as exc:
                self.refresh_failures += 1
                log.warning("metrics refresh failed, serving the last values: %s", exc)

    async def render(self) -> bytes:
        """The text exposition for GET /metrics; serve it with content type CONTENT_TYPE."""
        await self.refresh()
        return generate_latest(self.registry)

    async def _read(self) -> Snapshot:
        pool = self.store.pool
        counts = await fetch(pool, "metrics_job_counts", {})
        lag = await fetch(pool, "metrics_dispatch_lag", {})
        (workers,) = await fetch(pool, "metrics_workers", {"dead_after": self.settings.worker_dead_after_s})
        snap = Snapshot(taken_at=time.monotonic())
        pending: dict[str, int] = {}
        for r in counts:
            queue, n = r["queue"], int(r["n"])
            if r["kind"] == "scheduled":
                snap.scheduled[queue] = n
                continue
            key = (r["status"], r["type"])
            snap.jobs[key] = snap.jobs.get(key, 0) + n
            if r["status"] == "active":
                snap.active[queue] = snap.active.get(queue, 0) + n
            elif r["status"] == "pending":
                pending[queue] = pending.get(queue, 0) + n
        # May run now: every pending job (the rollup's count) but those waiting for their time.
        snap.depth = {q: max(0, n - snap.scheduled.get(q, 0)) for q, n in pending.items()}
        snap.lag_s = max(0.0, float(lag[0]["lag_s"])) if lag else 0.0
        snap.workers, snap.threads, snap.busy = workers["processes"], workers["threads"], workers["busy"]
        return snap


class _SnapshotCollector:
    """Turns the current snapshot (and the servers' counters) into metric families at scrape time."""

    def __init__(self, metrics: Metrics, counters: Callable[[], Iterator[Metric]] | None) -> None:
        self.metrics = metrics
        self.counters = counters

    def describe(self) -> list[Metric]:
        return []  # families vary with the data; nothing to check for clashes at registration

    def collect(self) -> Iterator[Metric]:
        snap = self.metrics.snapshot
        jobs = GaugeMetricFamily(
            "jobdesk_jobs", "Jobs in the database by status and type.", labels=["status", "type"]
        )
        for (status, job_type), n in sorted(snap.jobs.items()):
            jobs.add_metric([status, job_type], n)
        yield jobs
        for name, doc, values in (
            ("jobdesk_queue_depth", "Pending jobs that may run now, per queue.", snap.depth),
            (
                "jobdesk_queue_scheduled",
                "Pending jobs waiting for their run time, per queue.",
                snap.scheduled,
            ),
            ("jobdesk_queue_active", "Running jobs per queue.", snap.active),
        ):
            family = GaugeMetricFamily(name, doc, labels=["queue"])
            for queue, n in sorted(values.items()):
                family.add_metric([queue], n)
            yield family
        yield GaugeMetricFamily("jobdesk_workers", "Live worker processes.", value=snap.workers)
        yield GaugeMetricFamily("jobdesk_worker_threads", "Threads of live workers.", value=snap.threads)
        yield GaugeMetricFamily(
            "jobdesk_worker_busy_threads", "Jobs live workers are running.", value=snap.busy
        )
        yield GaugeMetricFamily(
            "jobdesk_dispatch_lag_seconds",
            "How long the longest-waiting runnable job has waited to be dispatched.",
            value=snap.lag_s,
        )
        yield CounterMetricFamily(
            "jobdesk_metrics_refresh_failures",
            "Metric refreshes that could not read the database (the last values were served).",
            value=self.metrics.refresh_failures,
        )
        if self.counters is not None:
            yield from self.counters()


def extras_counters(scheduler: Scheduler | None, notifier: Notifier | None) -> Callable[[], Iterator[Metric]]:
    """Counters of this server's scheduler and notifier (either may be None)."""

    def collect() -> Iterator[Metric]:
        if scheduler is not None:
            yield CounterMetricFamily(
                "jobdesk_schedule_runs",
                "Jobs this server created for schedule ticks.",
                value=scheduler.stats.fired,
            )
            yield CounterMetricFamily(
                "jobdesk_schedule_missed",
                "Missed schedule ticks this server did not run (by the schedule's policy).",
                value=scheduler.stats.dropped,
            )
        if notifier is not None:
            family = CounterMetricFamily(
                "jobdesk_notifications",
                "Notification attempts by this server: sent, retry (will try again) or failed (gave up).",
                labels=["channel", "outcome"],
            )
            for (channel, outcome), n in sorted(notifier.stats.items()):
                family.add_metric([channel, outcome], n)
            yield family

    return collect
