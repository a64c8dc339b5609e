"""The queues tab: pending, active and failed per queue; pause and resume."""

from __future__ import annotations

from jobdesk.client.base import JobsClient
from jobdesk.ui import aio, resources
from jobdesk.ui.models.records import RecordsModel
from jobdesk.ui.models.system import QUEUE_FIELDS
from jobdesk.ui.qt import Signal, widgets
from jobdesk.ui.widgets.records_table import fit_columns, records_table, selected_records


class QueuesView(widgets.QWidget):
    """Signals:
    message(str, str): what a pause or resume did, and its kind.
    """

    message = Signal(str, str)

    def __init__(self, parent: widgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.client: JobsClient | None = None
        self.model = RecordsModel(QUEUE_FIELDS, "name", self)
        self.table = records_table(self.model, name="queuesTable")
        fit_columns(self.table, stretch=len(QUEUE_FIELDS) - 1)  # the held-back reason takes the rest
        self.pause_button = resources.button("pause", "Pause")
        self.resume_button = resources.button("resume", "Resume")
        self.pause_all_button = resources.button("pause", "Pause all")
        self.resume_all_button = resources.button("resume", "Resume all")
        self.pause_button.clicked.connect(self.on_pause_button_clicked)
        self.resume_button.clicked.connect(self.on_resume_button_clicked)
        self.pause_all_button.clicked.connect(self.on_pause_all_button_clicked)
        self.resume_all_button.clicked.connect(self.on_resume_all_button_clicked)
        note = widgets.QLabel(
            "A paused queue keeps its jobs pending: nothing new is dispatched until it is resumed. "
            "Jobs already running finish."
        )
        note.setWordWrap(True)
        buttons = widgets.QHBoxLayout()
        for b in (self.pause_button, self.resume_button, self.pause_all_button, self.resume_all_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout = widgets.QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)
        layout.addWidget(note)

    async def refresh(self, client: JobsClient) -> None:
        self.model.set_records(await client.queues())

    def selected_names(self) -> list[str]:
        return [r["name"] for r in selected_records(self.table, self.model)]

    async def set_paused(self, names: list[str], paused: bool) -> None:
        if self.client is None or not names:
            return
        for name in names:
            await self.client.set_queue_paused(name, paused)
        verb = "Paused" if paused else "Resumed"
        self.message.emit(f"{verb} {', '.join(names)}", "info")
        await self.refresh(self.client)

    def on_pause_button_clicked(self) -> None:
        aio.spawn(self.set_paused(self.selected_names(), True), context="pausing")

    def on_resume_button_clicked(self) -> None:
        aio.spawn(self.set_paused(self.selected_names(), False), context="resuming")

    def on_pause_all_button_clicked(self) -> None:
        aio.spawn(self.set_paused([r["name"] for r in self.model.records], True), context="pausing")

    def on_resume_all_button_clicked(self) -> None:
        aio.spawn(self.set_paused([r["name"] for r in self.model.records], False), context="resuming")
