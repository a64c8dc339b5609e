"""The workers tab: every live worker process; start and stop the console's own."""

from __future__ import annotations

from jobdesk.client.base import JobsClient
from jobdesk.ui import aio, resources
from jobdesk.ui.models.records import RecordsModel
from jobdesk.ui.models.system import WORKER_FIELDS
from jobdesk.ui.qt import Signal, widgets
from jobdesk.ui.text import plain_label
from jobdesk.ui.widgets.records_table import records_table


class WorkersView(widgets.QWidget):
    """Signals:
    message(str, str): what starting or stopping the local workers did.
    """

    message = Signal(str, str)

    def __init__(self, parent: widgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.client: JobsClient | None = None
        self.model = RecordsModel(WORKER_FIELDS, "id", self)
        self.table = records_table(self.model, name="workersTable")

        self.local_state = plain_label()
        self.processes = widgets.QSpinBox()
        self.processes.setRange(1, 32)
        self.processes.setSuffix(" processes")
        self.start_button = resources.button("start", "Start local workers")
        self.stop_button = resources.button("stop", "Stop local workers")
        self.start_button.clicked.connect(self.on_start_button_clicked)
        self.stop_button.clicked.connect(self.on_stop_button_clicked)
        local = widgets.QHBoxLayout()
        local.addWidget(self.local_state, 1)
        local.addWidget(self.processes)
        local.addWidget(self.start_button)
        local.addWidget(self.stop_button)
        layout = widgets.QVBoxLayout(self)
        layout.addLayout(local)
        layout.addWidget(self.table, 1)
        self.show_local_state()

    async def refresh(self, client: JobsClient) -> None:
        self.model.set_records(await client.workers())
        self.show_local_state()

    def show_local_state(self) -> None:
        control = self.client.local_workers if self.client is not None else None
        if control is None:
            self.local_state.setText("This console runs no workers of its own.")
            for w in (self.processes, self.start_button, self.stop_button):
                w.setEnabled(False)
            return
        if control.running:
            self.local_state.setText(f"Local workers: {control.processes} processes running")
        else:
            self.local_state.setText("Local workers: stopped")
        if not self.processes.hasFocus():
            self.processes.setValue(max(1, control.processes))
        self.processes.setEnabled(not control.running)
        self.start_button.setEnabled(not control.running)
        self.stop_button.setEnabled(control.running)

    async def start_local(self) -> None:
        control = self.client.local_workers if self.client is not None else None
        if control is None or control.running:
            return
        control.processes = self.processes.value()
        self.start_button.setEnabled(False)
        await control.start()
        self.message.emit(f"Started {control.processes} local worker processes", "info")
        self.show_local_state()

    async def stop_local(self) -> None:
        control = self.client.local_workers if self.client is not None else None
        if control is None or not control.running:
            return
        self.stop_button.setEnabled(False)
        await control.stop()
        self.message.emit("Stopped the local workers", "info")
        self.show_local_state()

    def on_start_button_clicked(self) -> None:
        aio.spawn(self.start_local(), context="starting workers")

    def on_stop_button_clicked(self) -> None:
        aio.spawn(self.stop_local(), context="stopping workers")
