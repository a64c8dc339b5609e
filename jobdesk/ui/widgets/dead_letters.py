"""The dead letters tab: jobs that failed their last attempt, with their errors; requeue or purge them."""

from __future__ import annotations

from typing import Any

from jobdesk.client.base import JobsClient
from jobdesk.core.jobs import Job
from jobdesk.ui import aio, resources
from jobdesk.ui.actions import Confirm, ask
from jobdesk.ui.models.records import Field, RecordsModel
from jobdesk.ui.models.system import ago
from jobdesk.ui.qt import Signal, widgets
from jobdesk.ui.text import plain_label
from jobdesk.ui.widgets.records_table import selected_records

# The newest this many are listed; requeue or purge "all" reaches every one of them, listed or not.
SHOWN = 500

DEAD_FIELDS = [
    Field("Name", lambda r: str(r["name"])),
    Field("Type", lambda r: str(r["type"])),
    Field("Queue", lambda r: str(r["queue"])),
    Field("Attempts", lambda r: str(r["attempts"]), numeric=True),
    Field("Failed", lambda r: ago(r["failedAt"])),
    Field("Error", lambda r: str(r["error"])),
]


def dead_record(job: Job) -> dict[str, Any]:
    error = job.error or {}
    return {
        "id": job.id,
        "name": job.name,
        "type": job.type,
        "queue": job.queue,
        "attempts": job.attempts,
        "failedAt": job.completed_at.isoformat() if job.completed_at else None,
        "error": str(error.get("message") or ""),
    }


class DeadLettersView(widgets.QWidget):
    """Attributes:
        confirm: asked before a purge; tests replace it.

    Signals:
        message(str, str): what a requeue or purge did, and its kind.
    """

    message = Signal(str, str)

    def __init__(self, parent: widgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.client: JobsClient | None = None
        self.confirm: Confirm = ask(self)
        self.model = RecordsModel(DEAD_FIELDS, "id", self)
        self.table = _table(self.model)
        self.count_label = plain_label()
        self.requeue_button = resources.button("retry", "Requeue")
        self.requeue_all_button = resources.button("retry", "Requeue all")
        self.purge_button = resources.button("cancel", "Purge")
        self.purge_all_button = resources.button("cancel", "Purge all")
        self.requeue_button.clicked.connect(self.on_requeue_button_clicked)
        self.requeue_all_button.clicked.connect(self.on_requeue_all_button_clicked)
        self.purge_button.clicked.connect(self.on_purge_button_clicked)
        self.purge_all_button.clicked.connect(self.on_purge_all_button_clicked)
        buttons = widgets.QHBoxLayout()
        for b in (self.requeue_button, self.requeue_all_button, self.purge_button, self.purge_all_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.count_label)
        note = widgets.QLabel(
            "Requeue makes failed jobs pending again with their attempts reset; purge deletes them."
        )
        note.setWordWrap(True)
        layout = widgets.QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)
        layout.addWidget(note)

    async def refresh(self, client: JobsClient) -> None:
        page = await client.dead_letters(limit=SHOWN)
        self.model.set_records([dead_record(j) for j in page.items])
        shown = f" (newest {len(page.items):,} shown)" if page.total > len(page.items) else ""
        self.count_label.setText(f"{page.total:,} failed job{'' if page.total == 1 else 's'}{shown}")

    def selected_ids(self) -> list[str]:
        return [r["id"] for r in selected_records(self.table, self.model)]

    async def requeue(self, ids: list[str] | None) -> None:
        """Requeue the failed jobs among `ids`, or every failed job (None)."""
        if self.client is None or ids == []:
            return
        n = await self.client.requeue_dead(ids)
        self.message.emit(f"Requeued {n} failed job{'' if n == 1 else 's'}", "info")
        await self.refresh(self.client)

    def ask_purge(self, ids: list[str] | None) -> bool:
        """Whether the operator agrees to delete `ids` (None: every failed job); asked outside any task."""
        if self.client is None or ids == []:
            return False
        what = f"{len(ids)} failed job{'' if len(ids) == 1 else 's'}" if ids else "every failed job"
        return self.confirm("Purge failed jobs", f"Delete {what}? This cannot be undone.")

    async def purge(self, ids: list[str] | None) -> None:
        """Delete the failed jobs among `ids`, or every failed job (None); the slots ask first."""
        if self.client is None or ids == []:
            return
        n = await self.client.purge_dead(ids)
        self.message.emit(f"Purged {n} failed job{'' if n == 1 else 's'}", "info")
        await self.refresh(self.client)

    def on_requeue_button_clicked(self) -> None:
        aio.spawn(self.requeue(self.selected_ids()), context="requeueing")

    def on_requeue_all_button_clicked(self) -> None:
        aio.spawn(self.requeue(None), context="requeueing")

    def on_purge_button_clicked(self) -> None:
        ids = self.selected_ids()
        if self.ask_purge(ids):
            aio.spawn(self.purge(ids), context="purging")

    def on_purge_all_button_clicked(self) -> None:
        if self.ask_purge(None):
            aio.spawn(self.purge(None), context="purging")


def _table(model: RecordsModel) -> widgets.QTableView:
    view = widgets.QTableView()
    view.setObjectName("deadLettersTable")
    view.setModel(model)
    view.setShowGrid(False)
    view.setAlternatingRowColors(True)
    view.setSelectionBehavior(widgets.QAbstractItemView.SelectionBehavior.SelectRows)
    view.verticalHeader().setVisible(False)
    header = view.horizontalHeader()
    header.setDefaultSectionSize(140)  # fixed widths: up to 500 rows are re-read every few seconds
    header.setStretchLastSection(True)  # the error takes the rest
    return view
