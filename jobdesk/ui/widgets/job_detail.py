"""The job detail pane: data, result, error and stack, attempts, timeline, live progress.

Everything a job supplies is shown as plain text (QPlainTextEdit, labels
pinned to PlainText): an error message full of HTML shows its angle brackets.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jobdesk.client.base import JobsClient
from jobdesk.core.events import JobEvent
from jobdesk.core.jobs import Job
from jobdesk.ui import aio, resources
from jobdesk.ui.models.columns import human_duration
from jobdesk.ui.qt import Signal, core, widgets
from jobdesk.ui.text import plain_label, pretty_json
from jobdesk.ui.widgets.why import FlowPanel

# Several progress events a second may arrive for the shown job: redraw at most this often.
REFRESH_MS = 100


def when(value: datetime | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def timeline(job: Job) -> list[tuple[str, str]]:
    """(time, what happened), in order: created, each attempt's start and end, the finish."""
    events: list[tuple[Any, str]] = [(job.created_at, "created")]
    for entry in job.attempt_log:
        n = entry.get("attempt")
        if entry.get("startedAt"):
            events.append((entry["startedAt"], f"attempt {n} started on {entry.get('worker') or 'a worker'}"))
        outcome = entry.get("outcome") or "ended"
        error = f": {entry['error']}" if entry.get("error") else ""
        events.append((entry.get("endedAt"), f"attempt {n} {outcome}{error}"))
    logged = len(job.attempt_log)
    if job.status.value == "active" and job.started_at is not None and job.attempts > logged:
        events.append((job.started_at, f"attempt {job.attempts} started on {job.worker_id or 'a worker'}"))
    if job.status.value == "pending" and logged and job.run_at is not None:
        events.append((job.run_at, "next attempt due"))
    if job.status.is_terminal and job.completed_at is not None:
        events.append((job.completed_at, f"finished: {job.status.value}"))
    return [(when(t), what) for t, what in events]


class JobDetail(widgets.QWidget):
    """Attributes:
        job: the job shown, as last read or heard of; None before one is chosen.

    Signals:
        cancel_requested(str), retry_requested(str): the pane's own buttons, for the job shown.
    """

    cancel_requested = Signal(str)
    retry_requested = Signal(str)

    def __init__(self, parent: widgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.client: JobsClient | None = None
        self.job: Job | None = None
        self._job_id: str | None = None
        self._latest: Job | None = None
        self._shape: tuple[Any, ...] | None = None
        self._timer = core.QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.on_timer_timeout)

        self.title = plain_label("Select a job to see its details", "detailTitle")
        self.title.setWordWrap(True)
        self.chip = plain_label("", "statusChip")
        self.facts = plain_label()
        self.facts.setTextInteractionFlags(core.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.progress = widgets.QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.progress_message = plain_label()
        self.cancel_button = resources.button("cancel", "Cancel")
        self.retry_button = resources.button("retry", "Retry")
        self.cancel_button.clicked.connect(self.on_cancel_button_clicked)
        self.retry_button.clicked.connect(self.on_retry_button_clicked)

        self.summary = widgets.QFormLayout()
        summary_page = widgets.QWidget()
        summary_page.setLayout(self.summary)
        self.data_text = _code()
        self.result_text = _code()
        self.error_message = plain_label()
        self.error_message.setWordWrap(True)
        self.error_message.setTextInteractionFlags(core.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_stack = _code()
        error_page = widgets.QWidget()
        error_layout = widgets.QVBoxLayout(error_page)
        error_layout.addWidget(self.error_message)
        error_layout.addWidget(self.error_stack, 1)
        self.attempts = _tree(["#", "Worker", "Started", "Ended", "Outcome", "Error"])
        self.timeline = _tree(["Time", "Event"])
        self.flow = FlowPanel()  # why it waits, what it depends on, its batch
        self.tabs = widgets.QTabWidget()
        self.tabs.setObjectName("detailTabs")
        for page, name in (
            (summary_page, "Summary"),
            (self.data_text, "Data"),
            (self.result_text, "Result"),
            (error_page, "Error"),
            (self.attempts, "Attempts"),
            (self.timeline, "Timeline"),
            (self.flow, "Flow"),
        ):
            self.tabs.addTab(page, name)

        head = widgets.QHBoxLayout()
        head.addWidget(self.title, 1)
        head.addWidget(self.chip)
        buttons = widgets.QHBoxLayout()
        buttons.addWidget(self.facts, 1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.retry_button)
        layout = widgets.QVBoxLayout(self)
        layout.addLayout(head)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.progress_message)
        layout.addWidget(self.tabs, 1)
        self._show_nothing()

    # -- what is shown ------------------------------------------------------------------------

    def show_job(self, job_id: str | None) -> None:
        """Show a job by id (read from the client), or nothing."""
        self._job_id = job_id
        if job_id is None or self.client is None:
            self._show_nothing()
            return
        if self.job is None or self.job.id != job_id:
            self._shape = None
        aio.spawn(self._load(job_id), context="reading the job")

    async def _load(self, job_id: str) -> None:
        assert self.client is not None
        job = await self.client.get_job(job_id)
        if job_id == self._job_id:  # still the one wanted; set_job ignores a read older than an event
            self.set_job(job)

    def apply_events(self, events: list[JobEvent]) -> None:
        if self._job_id is None:
            return
        for event in events:
            if event.job.id == self._job_id:
                self._latest = event.job
        if self._latest is not None and self._latest.id == self._job_id and not self._timer.isActive():
            self._timer.start()

    def on_timer_timeout(self) -> None:
        if self._latest is not None and self._latest.id == self._job_id:
            self.set_job(self._latest)

    def set_job(self, job: Job) -> None:
        if self.job is not None and self.job.id == job.id and job.updated_at < self.job.updated_at:
            return  # an older read than what is already shown
        self.job = job
        self._latest = job
        self._show_progress(job)
        # Data, result, error and the lists change only with the status; progress changes far more often.
        shape = (job.id, job.status, job.attempts, len(job.attempt_log), job.cancel_requested_at, job.run_at)
        if shape != self._shape:
            self._shape = shape
            self._show_all(job)

    def _show_nothing(self) -> None:
        self.job = None
        self._latest = None
        self._shape = None
        self.title.setText("Select a job to see its details")
        self.chip.setText("")
        self.chip.setStyleSheet("")
        self.facts.setText("")
        self.progress.setVisible(False)
        self.progress_message.setText("")
        self.cancel_button.setEnabled(False)
        self.retry_button.setEnabled(False)
        for editor in (self.data_text, self.result_text, self.error_stack):
            editor.setPlainText("")
        self.error_message.setText("")
        self.attempts.clear()
        self.timeline.clear()
        self.flow.show_job(None)

    def _show_progress(self, job: Job) -> None:
        percentage = 100.0 if job.status.value == "completed" else job.progress.percentage
        self.progress.setVisible(True)
        self.progress.setValue(int(percentage * 10))
        counts = f" ({job.progress.current:,}/{job.progress.total:,})" if job.progress.total else ""
        self.progress.setFormat(f"{percentage:.0f}%{counts}")
        self.progress_message.setText(job.progress.message or "")

    def _show_all(self, job: Job) -> None:
        status = job.status.value
        colour = resources.current().status_color(status).name()
        self.title.setText(job.name)
        self.chip.setText(status if not (job.cancel_requested_at and status == "active") else "cancelling")
        self.chip.setStyleSheet(f"color: {colour}; border: 1px solid {colour};")
        self.facts.setText(
            f"{job.id}   ·   {job.type} on {job.queue}   ·   priority {job.priority}"
            f"   ·   attempt {job.attempts} of {job.max_attempts}"
        )
        self.cancel_button.setEnabled(status in ("pending", "active"))
        self.retry_button.setEnabled(status in ("failed", "cancelled"))
        self._fill_summary(job)
        self.data_text.setPlainText(pretty_json(job.data))
        self.result_text.setPlainText(pretty_json(job.result))
        error = job.error or {}
        self.error_message.setText(str(error.get("message") or ("" if not error else pretty_json(error))))
        self.error_stack.setPlainText(str(error.get("stack") or ""))
        self.tabs.setTabText(3, "Error ●" if error else "Error")
        self.attempts.clear()
        for entry in job.attempt_log:
            self.attempts.addTopLevelItem(
                widgets.QTreeWidgetItem(
                    [
                        str(entry.get("attempt", "")),
                        str(entry.get("worker") or ""),
                        when(entry.get("startedAt")),
                        when(entry.get("endedAt")),
                        str(entry.get("outcome") or ""),
                        str(entry.get("error") or ""),
                    ]
                )
            )
        self.timeline.clear()
        for at, what in timeline(job):
            self.timeline.addTopLevelItem(widgets.QTreeWidgetItem([at, what]))
        self.flow.client = self.client
        self.flow.show_job(job)

    def _fill_summary(self, job: Job) -> None:
        while self.summary.rowCount():
            self.summary.removeRow(0)
        rows = [
            ("Id", job.id),
            ("Type", job.type),
            ("Queue", job.queue),
            ("Description", job.description or ""),
            ("Priority", str(job.priority)),
            ("Attempts", f"{job.attempts} of {job.max_attempts}"),
            ("Worker", job.worker_id or ""),
            ("Owner", f"{job.user_id} ({job.organization_id})"),
            ("Created", when(job.created_at)),
            ("Started", when(job.started_at)),
            ("Finished", when(job.completed_at)),
            ("Duration", human_duration(job.duration_s)),
            ("Parent", job.parent_id or ""),
            ("Batch", job.batch_id or ""),
        ]
        for name, value in rows:
            if value:
                label = plain_label(value)
                label.setTextInteractionFlags(core.Qt.TextInteractionFlag.TextSelectableByMouse)
                self.summary.addRow(name, label)

    def on_cancel_button_clicked(self) -> None:
        if self.job is not None:
            self.cancel_requested.emit(self.job.id)

    def on_retry_button_clicked(self) -> None:
        if self.job is not None:
            self.retry_requested.emit(self.job.id)


def _code() -> widgets.QPlainTextEdit:
    editor = widgets.QPlainTextEdit()
    editor.setObjectName("code")
    editor.setReadOnly(True)
    editor.setLineWrapMode(widgets.QPlainTextEdit.LineWrapMode.NoWrap)
    return editor


def _tree(headers: list[str]) -> widgets.QTreeWidget:
    tree = widgets.QTreeWidget()
    tree.setHeaderLabels(headers)
    tree.setRootIsDecorated(False)
    tree.setUniformRowHeights(True)
    tree.setAlternatingRowColors(True)
    # Times and short fields sized to their text; the last column (error, event) takes the rest.
    tree.header().setSectionResizeMode(widgets.QHeaderView.ResizeMode.ResizeToContents)
    tree.header().setStretchLastSection(True)
    return tree
