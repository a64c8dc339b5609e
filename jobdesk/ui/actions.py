"""What an operator does to jobs: create, cancel, retry (one or many), copy ids; each with a shortcut.

The actions act on whatever `selection()` returns (the job table's selected
rows, or the job in the detail pane), so the toolbar, the context menu and
the keyboard all run the same code.
"""

from __future__ import annotations

from collections.abc import Callable

from jobdesk.client.base import BulkResult, JobsClient
from jobdesk.ui import aio, resources
from jobdesk.ui.models.rows import JobRow
from jobdesk.ui.qt import Signal, core, gui, widgets

CANCELLABLE = {"pending", "active"}
RETRYABLE = {"failed", "cancelled"}

# Ask before a destructive action on more than one job.
Confirm = Callable[[str, str], bool]


def ask(parent: widgets.QWidget | None) -> Confirm:
    def confirm(title: str, question: str) -> bool:
        box = widgets.QMessageBox(parent)
        box.setIcon(widgets.QMessageBox.Icon.Question)
        box.setWindowTitle(title)
        box.setTextFormat(core.Qt.TextFormat.PlainText)
        box.setText(question)
        box.setStandardButtons(widgets.QMessageBox.StandardButton.Yes | widgets.QMessageBox.StandardButton.No)
        box.setDefaultButton(widgets.QMessageBox.StandardButton.No)
        return box.exec() == widgets.QMessageBox.StandardButton.Yes

    return confirm


class JobActions(core.QObject):
    """Attributes:
        create, cancel, retry, copy_id, refresh, find: the QActions (toolbar, menus, shortcuts).
        confirm: asked before a bulk cancel; tests replace it.

    Signals:
        message(str, str): a result to show the operator, and its kind ("info", "failed").
        create_requested(): the operator asked for the new-job dialog.
        refresh_requested(), find_requested()
        changed(list): jobs an action changed (the Job objects the server returned).
    """

    message = Signal(str, str)
    create_requested = Signal()
    refresh_requested = Signal()
    find_requested = Signal()
    changed = Signal(object)

    def __init__(self, owner: widgets.QWidget, selection: Callable[[], list[JobRow]]) -> None:
        super().__init__(owner)
        self.client: JobsClient | None = None
        self.selection = selection
        self.confirm: Confirm = ask(owner)
        keys = gui.QKeySequence.StandardKey
        self.create = self._action("add", "&New job…", keys.New, "Create a job")
        self.cancel = self._action("cancel", "&Cancel", "Del", "Cancel the selected jobs")
        self.retry = self._action("retry", "&Retry", "Ctrl+R", "Retry the selected failed or cancelled jobs")
        self.copy_id = self._action("copy", "Copy &id", keys.Copy, "Copy the selected ids")
        self.refresh = self._action("refresh", "Re&fresh", keys.Refresh, "Reload")
        self.find = self._action("search", "&Find", keys.Find, "Search jobs")
        self.create.triggered.connect(self.create_requested)
        self.cancel.triggered.connect(self.on_cancel_triggered)
        self.retry.triggered.connect(self.on_retry_triggered)
        self.copy_id.triggered.connect(self.on_copy_id_triggered)
        self.refresh.triggered.connect(self.refresh_requested)
        self.find.triggered.connect(self.find_requested)
        self.update_enabled()

    def _action(
        self, icon: str, text: str, shortcut: str | gui.QKeySequence.StandardKey, tip: str
    ) -> gui.QAction:
        action = gui.QAction(text, self)
        resources.set_icon(action, icon)
        action.setShortcut(gui.QKeySequence(shortcut))
        action.setToolTip(f"{tip} ({action.shortcut().toString(gui.QKeySequence.SequenceFormat.NativeText)})")
        return action

    def selection_actions(self) -> list[gui.QAction]:
        return [self.cancel, self.retry, self.copy_id]

    def set_client(self, client: JobsClient | None) -> None:
        self.client = client
        self.update_enabled()

    def update_enabled(self) -> None:
        rows = self.selection() if self.client is not None else []
        statuses = {r.status for r in rows}
        self.cancel.setEnabled(bool(statuses & CANCELLABLE))
        self.retry.setEnabled(bool(statuses & RETRYABLE))
        self.copy_id.setEnabled(bool(rows))
        self.create.setEnabled(self.client is not None)
        self.refresh.setEnabled(self.client is not None)

    # -- slots -------------------------------------------------------------------------------

    def on_cancel_triggered(self) -> None:
        ids = [r.id for r in self.selection() if r.status in CANCELLABLE]
        if not ids or self.client is None:
            return
        if len(ids) > 1 and not self.confirm("Cancel jobs", f"Cancel {len(ids)} jobs? Running jobs stop."):
            return
        aio.spawn(self.cancel_jobs(ids), context="cancel")

    def on_retry_triggered(self) -> None:
        ids = [r.id for r in self.selection() if r.status in RETRYABLE]
        if ids and self.client is not None:
            aio.spawn(self.retry_jobs(ids), context="retry")

    def on_copy_id_triggered(self) -> None:
        ids = [r.id for r in self.selection()]
        if ids:
            widgets.QApplication.clipboard().setText("\n".join(ids))
            self.message.emit("Copied the job id" if len(ids) == 1 else f"Copied {len(ids)} job ids", "info")

    # -- the work ------------------------------------------------------------------------------

    async def cancel_jobs(self, ids: list[str]) -> BulkResult:
        assert self.client is not None
        result = await self.client.cancel_jobs(ids)
        self._report("Cancelled", result)
        return result

    async def retry_jobs(self, ids: list[str]) -> BulkResult:
        assert self.client is not None
        result = await self.client.retry_jobs(ids)
        self._report("Requeued", result)
        return result

    def _report(self, verb: str, result: BulkResult) -> None:
        if result.done:
            self.changed.emit(result.done)
        if result.errors:
            first = next(iter(result.errors.values()))
            more = f" (and {len(result.errors) - 1} more)" if len(result.errors) > 1 else ""
            prefix = f"{verb} {_jobs(len(result.done))}; " if result.done else ""
            self.message.emit(f"{prefix}{_jobs(len(result.errors))} not changed: {first}{more}", "failed")
        else:
            self.message.emit(f"{verb} {_jobs(len(result.done))}", "info")


def _jobs(n: int) -> str:
    return f"{n} job" if n == 1 else f"{n} jobs"
