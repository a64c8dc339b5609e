"""The overview tab: counts by status, rates, throughput over the last hour, queue depths, workers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from jobdesk.client.base import JobsClient
from jobdesk.core.jobs import JobStatus
from jobdesk.ui import resources
from jobdesk.ui.models.columns import human_duration
from jobdesk.ui.models.records import RecordsModel
from jobdesk.ui.models.system import QUEUE_FIELDS, WORKER_SUMMARY_FIELDS
from jobdesk.ui.qt import widgets
from jobdesk.ui.text import plain_label
from jobdesk.ui.widgets.records_table import fit_columns, records_table
from jobdesk.ui.widgets.stat_card import StatCard
from jobdesk.ui.widgets.throughput_chart import ThroughputChart


class Overview(widgets.QWidget):
    """Attributes:
    stats: the last figures read ({} before the first refresh).
    """

    def __init__(self, parent: widgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.stats: dict[str, Any] = {}
        self.cards = {s.value: StatCard(s.value.capitalize()) for s in JobStatus}
        self.total = StatCard("Total jobs")
        self.success = StatCard("Success rate")
        self.failure = StatCard("Failure rate")
        self.duration = StatCard("Average duration")
        self.workers_online = StatCard("Workers online")
        self.last_hour = StatCard("Finished, last hour")
        self.chart = ThroughputChart()
        self.queues = RecordsModel(QUEUE_FIELDS, "name", self)
        self.workers = RecordsModel(WORKER_SUMMARY_FIELDS, "id", self)

        grid = widgets.QGridLayout()
        grid.setSpacing(10)
        for i, card in enumerate([self.total, *self.cards.values()]):
            grid.addWidget(card, 0, i)
        second = [self.success, self.failure, self.duration, self.last_hour, self.workers_online]
        for i, card in enumerate(second):
            grid.addWidget(card, 1, i)

        side = widgets.QVBoxLayout()
        side.addWidget(plain_label("Queue depths", "sectionTitle"))
        queues = records_table(self.queues, selectable=False)
        fit_columns(queues, stretch=len(QUEUE_FIELDS) - 1)  # the held-back reason takes the rest
        side.addWidget(queues, 3)
        side.addWidget(plain_label("Workers online", "sectionTitle"))
        side.addWidget(records_table(self.workers, selectable=False), 2)
        bottom = widgets.QHBoxLayout()
        left = widgets.QVBoxLayout()
        left.addWidget(plain_label("Throughput, last hour", "sectionTitle"))
        left.addWidget(self.chart, 1)
        bottom.addLayout(left, 3)
        bottom.addLayout(side, 2)

        layout = widgets.QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addLayout(bottom, 1)

    async def refresh(self, client: JobsClient) -> None:
        stats, points, queues, workers = await asyncio.gather(
            client.stats(), client.throughput(60), client.queues(), client.workers()
        )
        self.show_figures(stats, points, queues, workers)

    def show_figures(
        self,
        stats: dict[str, Any],
        points: list[dict[str, Any]],
        queues: list[dict[str, Any]],
        workers: list[dict[str, Any]],
    ) -> None:
        theme = resources.current()
        self.stats = stats
        by_status = stats.get("byStatus", {})
        self.total.set_value(f"{stats.get('total', 0):,}")
        for status, card in self.cards.items():
            card.set_value(f"{by_status.get(status, 0):,}", theme.status_color(status))
        self.success.set_value(f"{100 * stats.get('successRate', 0):.1f}%", theme.status_color("completed"))
        self.failure.set_value(f"{100 * stats.get('failureRate', 0):.1f}%", theme.status_color("failed"))
        p95 = stats.get("p95DurationSeconds")
        self.duration.set_value(
            human_duration(stats.get("averageDurationSeconds")) or "\u2013",
            note=f"p95 {human_duration(p95)}" if p95 is not None else "last 24 h",
        )
        self.chart.set_points(points, datetime.now(UTC))
        self.last_hour.set_value(f"{self.chart.last_total:,}")
        self.queues.set_records(queues)
        self.workers.set_records(workers)
        threads = sum(int(w.get("threads") or 0) for w in workers)
        busy = sum(len(w.get("currentJobs") or []) for w in workers)
        self.workers_online.set_value(f"{len(workers)}", note=f"{busy} of {threads} threads busy")

    def apply_theme(self) -> None:
        self.chart.apply_theme()
