"""The schedules tab: each cron schedule's next and last run; enable, disable or remove it."""

from __future__ import annotations

from typing import Any

from jobdesk.client.base import JobsClient
from jobdesk.ui import aio, resources
from jobdesk.ui.actions import Confirm, ask
from jobdesk.ui.models.records import Field, RecordsModel
from jobdesk.ui.models.system import ago
from jobdesk.ui.qt import Signal, widgets
from jobdesk.ui.widgets.job_detail import when
from jobdesk.ui.widgets.records_table import records_table, selected_records


def _enabled_colour(record: dict[str, Any]) -> Any:
    return resources.current().status_color("completed" if record.get("enabled") else "pending")


SCHEDULE_FIELDS = [
    Field("Name", lambda r: str(r["name"])),
    Field("Cron", lambda r: f"{r.get('cron', '')} ({r.get('timezone', 'UTC')})"),
    Field("Job type", lambda r: str((r.get("job") or {}).get("type", ""))),
    Field("Next run", lambda r: when(r.get("nextRunAt"))),
    Field("Last run", lambda r: ago(r.get("lastRunAt"))),
    Field("Enabled", lambda r: "enabled" if r.get("enabled") else "disabled", foreground=_enabled_colour),
    Field("Last error", lambda r: str(r.get("lastError") or "")),
]


class SchedulesView(widgets.QWidget):
    """Attributes:
        confirm: asked before a removal; tests replace it.

    Signals:
        message(str, str): what an enable, disable or removal did, and its kind.
    """

    message = Signal(str, str)

    def __init__(self, parent: widgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.client: JobsClient | None = None
        self.confirm: Confirm = ask(self)
        self.model = RecordsModel(SCHEDULE_FIELDS, "id", self)
        self.table = records_table(self.model, name="schedulesTable")
        self.enable_button = resources.button("resume", "Enable")
        self.disable_button = resources.button("pause", "Disable")
        self.remove_button = resources.button("cancel", "Remove")
        self.enable_button.clicked.connect(self.on_enable_button_clicked)
        self.disable_button.clicked.connect(self.on_disable_button_clicked)
        self.remove_button.clicked.connect(self.on_remove_button_clicked)
        buttons = widgets.QHBoxLayout()
        for b in (self.enable_button, self.disable_button, self.remove_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        note = widgets.QLabel(
            "A schedule creates its job at every tick of its cron expression. One enabled again fires "
            "from its next tick on; removing it keeps the jobs it created. Add schedules with "
            "`jobdesk schedule add` or POST /api/schedules."
        )
        note.setWordWrap(True)
        layout = widgets.QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)
        layout.addWidget(note)

    async def refresh(self, client: JobsClient) -> None:
        self.model.set_records(await client.schedules())

    def selected(self) -> list[dict[str, Any]]:
        return selected_records(self.table, self.model)

    async def set_enabled(self, ids: list[str], enabled: bool) -> None:
        if self.client is None or not ids:
            return
        names = [(await self.client.set_schedule_enabled(i, enabled))["name"] for i in ids]
        self.message.emit(f"{'Enabled' if enabled else 'Disabled'} {', '.join(names)}", "info")
        await self.refresh(self.client)

    async def remove(self, ids: list[str]) -> None:
        if self.client is None or not ids:
            return
        names = [(await self.client.remove_schedule(i))["name"] for i in ids]
        self.message.emit(f"Removed {', '.join(names)}", "info")
        await self.refresh(self.client)

    def on_enable_button_clicked(self) -> None:
        aio.spawn(self.set_enabled([r["id"] for r in self.selected()], True), context="enabling")

    def on_disable_button_clicked(self) -> None:
        aio.spawn(self.set_enabled([r["id"] for r in self.selected()], False), context="disabling")

    def on_remove_button_clicked(self) -> None:
        chosen = self.selected()
        names = ", ".join(r["name"] for r in chosen)
        if chosen and self.confirm("Remove schedules", f"Remove {names}? Jobs it created stay."):
            aio.spawn(self.remove([r["id"] for r in chosen]), context="removing")
