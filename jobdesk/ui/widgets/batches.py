"""The batches tab: jobs created together, one row per batch with its aggregate progress.

A row is the batch's summary as the client reads it (`batches()`, `batch(id)`):
counts by status, done of total, and the percentage (finished jobs count as
100 %, running ones by their own progress). Job events of a listed batch, and
its batch-completed, re-read just that batch's row, at most every BATCH_MS; a
job of a batch not listed yet re-reads the page. "Show jobs" (or a
double-click) lists the batch's jobs in the Jobs tab.
"""

from __future__ import annotations

import asyncio
from typing import Any

from jobdesk.client.base import JobsClient
from jobdesk.core.errors import NotFound
from jobdesk.core.events import EventName, JobEvent
from jobdesk.ui import aio, resources
from jobdesk.ui.models.records import BarRole, Field, RecordsModel
from jobdesk.ui.models.system import ago
from jobdesk.ui.qt import Signal, core, widgets
from jobdesk.ui.text import plain_label
from jobdesk.ui.widgets.progress_delegate import ProgressDelegate
from jobdesk.ui.widgets.records_table import records_table, selected_records

# The newest this many batches are listed.
SHOWN = 200
# Events of listed batches are gathered this long before their rows are re-read.
BATCH_MS = 300
# More changed batches than this at once: re-read the page instead of each.
MAX_SINGLE_READS = 20

FINISHED = ("completed", "failed", "cancelled")


def finished(record: dict[str, Any]) -> int:
    by = record.get("byStatus") or {}
    return sum(int(by.get(s) or 0) for s in FINISHED)


def batch_state(record: dict[str, Any]) -> str:
    """One status word for the whole batch: what its colour and icon show."""
    by = record.get("byStatus") or {}
    if record.get("completedAt") or finished(record) >= int(record.get("total") or 0):
        return "failed" if by.get("failed") else "cancelled" if by.get("cancelled") else "completed"
    if by.get("active") or finished(record):
        return "active"
    return "pending"


def progress_text(record: dict[str, Any]) -> str:
    total = int(record.get("total") or 0)
    return f"{finished(record):,} / {total:,} done · {float(record.get('percentage') or 0):.0f}%"


def _count(status: str, title: str) -> Field:
    return Field(title, lambda r: f"{int((r.get('byStatus') or {}).get(status) or 0):,}", numeric=True)


def _state_colour(record: dict[str, Any]) -> Any:
    return resources.current().status_color(batch_state(record))


def _state_icon(record: dict[str, Any]) -> Any:
    return resources.status_icon(batch_state(record))


BATCH_FIELDS = [
    Field("Batch", lambda r: str(r["id"])[:8], decoration=_state_icon),
    Field("Created", lambda r: ago(r.get("createdAt"))),
    Field("Owner", lambda r: f"{r.get('userId', '')} ({r.get('organizationId', '')})"),
    Field("Jobs", lambda r: f"{int(r.get('total') or 0):,}", numeric=True),
    Field(
        "Progress",
        progress_text,
        bar=lambda r: (float(r.get("percentage") or 0), progress_text(r), batch_state(r)),
    ),
    _count("pending", "Pending"),
    _count("active", "Active"),
    _count("completed", "Completed"),
    _count("failed", "Failed"),
    _count("cancelled", "Cancelled"),
    Field(
        "State",
        lambda r: f"finished {ago(r['completedAt'])}" if r.get("completedAt") else "running",
        foreground=_state_colour,
    ),
]
PROGRESS_COLUMN = 4


class BatchesView(widgets.QWidget):
    """Attributes:
        model: one record per batch, newest first.
        table: its view; the progress column is drawn as a bar.
        open_only: the "Unfinished only" box.

    Signals:
        open_batch(str): the operator asked for a batch's jobs.
        message(str, str): something to tell the operator, and its kind.
    """

    open_batch = Signal(str)
    message = Signal(str, str)

    def __init__(self, parent: widgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.client: JobsClient | None = None
        self.model = RecordsModel(BATCH_FIELDS, "id", self)
        self.table = records_table(self.model, name="batchesTable")
        self.table.setItemDelegateForColumn(PROGRESS_COLUMN, ProgressDelegate(self.table, role=BarRole))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(PROGRESS_COLUMN, widgets.QHeaderView.ResizeMode.Fixed)
        header.resizeSection(PROGRESS_COLUMN, 220)
        # "finished 35 min ago" in full; the counts, narrower than their room, give way.
        header.setSectionResizeMode(len(BATCH_FIELDS) - 1, widgets.QHeaderView.ResizeMode.ResizeToContents)
        self.table.doubleClicked.connect(self.on_table_double_clicked)
        self.show_button = resources.button("jobs", "Show jobs")
        self.show_button.clicked.connect(self.on_show_button_clicked)
        self.open_only = widgets.QCheckBox("Unfinished only")
        self.open_only.toggled.connect(self.on_open_only_toggled)
        self.count_label = plain_label()
        buttons = widgets.QHBoxLayout()
        buttons.addWidget(self.show_button)
        buttons.addWidget(self.open_only)
        buttons.addStretch(1)
        buttons.addWidget(self.count_label)
        note = widgets.QLabel(
            "Jobs created together (POST /api/jobs/batch) form a batch: its progress counts finished "
            "jobs as done and running ones by their own progress. Double-click a batch, or Show jobs, "
            "to list its jobs in the Jobs tab."
        )
        note.setWordWrap(True)
        layout = widgets.QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)
        layout.addWidget(note)

        self._dirty: set[str] = set()
        self._reload = False
        self._timer = core.QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(BATCH_MS)
        self._timer.timeout.connect(self.on_timer_timeout)

    async def refresh(self, client: JobsClient) -> None:
        page = await client.batches(open_only=self.open_only.isChecked(), limit=SHOWN)
        self.model.set_records(page.items)
        shown = f" (newest {len(page.items):,} shown)" if page.total > len(page.items) else ""
        self.count_label.setText(f"{page.total:,} batch{'' if page.total == 1 else 'es'}{shown}")

    def selected_ids(self) -> list[str]:
        return [r["id"] for r in selected_records(self.table, self.model)]

    # -- live updates ---------------------------------------------------------------------------

    def apply_events(self, events: list[JobEvent]) -> None:
        """Note the batches these job events touch; their rows are re-read in the next BATCH_MS."""
        listed = {r["id"] for r in self.model.records}
        for event in events:
            batch_id = event.job.batch_id
            if batch_id is None:
                continue
            if batch_id in listed:
                self._dirty.add(batch_id)
            elif event.name is EventName.CREATED:
                self._reload = True  # a new batch: it belongs at the top
        self._schedule()

    def on_batch_completed(self, batch_id: str) -> None:
        if any(r["id"] == batch_id for r in self.model.records):
            self._dirty.add(batch_id)
        else:
            self._reload = True
        self._schedule()

    def _schedule(self) -> None:
        if (self._dirty or self._reload) and not self._timer.isActive():
            self._timer.start()

    def on_timer_timeout(self) -> None:
        dirty, self._dirty = self._dirty, set()
        reload, self._reload = self._reload, False
        if self.client is not None and (dirty or reload):
            aio.spawn(self.update_rows(dirty, reload), context="reading batches", quiet=True)

    async def update_rows(self, ids: set[str], reload: bool = False) -> None:
        client = self.client
        if client is None:
            return
        if reload or len(ids) > MAX_SINGLE_READS:
            await self.refresh(client)
            return
        try:
            summaries = await asyncio.gather(*(client.batch(i) for i in ids))
        except NotFound:  # one was deleted (its jobs cleaned up): the page is out of date
            await self.refresh(client)
            return
        fresh = {s["id"]: s for s in summaries}
        records = [fresh.get(r["id"], r) for r in self.model.records]
        if self.open_only.isChecked():
            records = [r for r in records if not r.get("completedAt")]
        self.model.set_records(records)

    # -- slots ------------------------------------------------------------------------------------

    def on_show_button_clicked(self) -> None:
        chosen = self.selected_ids()
        if chosen:
            self.open_batch.emit(chosen[0])
        else:
            self.message.emit("Select a batch to see its jobs", "info")

    def on_table_double_clicked(self, index: core.QModelIndex) -> None:
        record = self.model.record(index.row())
        if record is not None:
            self.open_batch.emit(record["id"])

    def on_open_only_toggled(self, _checked: bool) -> None:
        if self.client is not None:
            aio.spawn(self.refresh(self.client), context="reading batches")
