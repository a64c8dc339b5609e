"""The job detail's "Flow" tab: why a pending job waits, what it depends on, and its batch.

Each is read from the client when the detail shows a job (and again on
"Ask again"); reasons, ids and statuses are shown as plain text.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from jobdesk.client.base import JobsClient
from jobdesk.core.errors import JobdeskError
from jobdesk.core.jobs import Job
from jobdesk.ui import aio, resources
from jobdesk.ui.qt import Signal, core, widgets
from jobdesk.ui.text import plain_label


def why_text(explained: dict[str, Any]) -> str:
    """The reasons' messages, one a line, most decisive first."""
    if not explained.get("waiting"):
        return f"Not waiting: the job is {explained.get('status', 'not pending')}."
    messages = [str(r.get("message") or r.get("kind") or "") for r in explained.get("reasons") or []]
    return "\n".join(f"• {m}" for m in messages) or "Nothing holds it: it should be dispatched shortly."


def batch_text(batch: dict[str, Any]) -> str:
    counts = ", ".join(f"{n} {s}" for s, n in (batch.get("byStatus") or {}).items() if n)
    done = "finished" if batch.get("completedAt") else "running"
    return (
        f"{batch.get('id', '')}: {float(batch.get('percentage') or 0):.0f}% of {batch.get('total', 0)} jobs"
        f" ({done}{'; ' + counts if counts else ''})"
    )


class FlowPanel(widgets.QWidget):
    """Attributes:
        job: the job whose flow is shown, or None.
        why_label, depends_label, batch_label: the three sections' text (plain).
        batch_button: lists the batch's jobs in the Jobs tab.

    Signals:
        batch_requested(str): the operator asked for the jobs of the shown job's batch.
    """

    batch_requested = Signal(str)

    def __init__(self, parent: widgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.client: JobsClient | None = None
        self.job: Job | None = None
        self.why_label = _text()
        self.depends_label = _text()
        self.batch_label = _text()
        self.again_button = resources.button("refresh", "Ask again")
        self.again_button.clicked.connect(self.on_again_button_clicked)
        self.why_title = plain_label("Why is this job waiting?", "sectionTitle")
        self.depends_title = plain_label("Depends on", "sectionTitle")
        self.batch_title = plain_label("Batch", "sectionTitle")
        self.batch_button = resources.button("jobs", "Show the batch's jobs")
        self.batch_button.clicked.connect(self.on_batch_button_clicked)
        head = widgets.QHBoxLayout()
        head.addWidget(self.why_title, 1)
        head.addWidget(self.again_button)
        layout = widgets.QVBoxLayout(self)
        layout.addLayout(head)
        layout.addWidget(self.why_label)
        layout.addWidget(self.depends_title)
        layout.addWidget(self.depends_label)
        layout.addWidget(self.batch_title)
        layout.addWidget(self.batch_label)
        batch_row = widgets.QHBoxLayout()
        batch_row.addWidget(self.batch_button)
        batch_row.addStretch(1)
        layout.addLayout(batch_row)
        layout.addStretch(1)
        self.show_job(None)

    def show_job(self, job: Job | None) -> None:
        """Show `job`'s flow (read asynchronously), or nothing."""
        self.job = job
        pending = job is not None and job.status.value == "pending"
        depends = job is not None and bool(job.depends_on)
        batch = job is not None and bool(job.batch_id)
        for widget, shown in (
            (self.why_title, pending),
            (self.why_label, pending),
            (self.depends_title, depends),
            (self.depends_label, depends),
            (self.batch_title, batch),
            (self.batch_label, batch),
            (self.batch_button, batch),
        ):
            widget.setVisible(shown)
        self.again_button.setEnabled(job is not None)
        for label in (self.why_label, self.depends_label, self.batch_label):
            label.setText("…")
        if job is not None and self.client is not None:
            aio.spawn(self.load(job), context="reading why the job waits", quiet=True)

    async def load(self, job: Job) -> None:
        client = self.client
        if client is None:
            return
        why, depends, batch = await asyncio.gather(
            _read(client.why(job.id)) if job.status.value == "pending" else _none(),
            asyncio.gather(*(_read(client.get_job(d)) for d in job.depends_on)),
            _read(client.batch(job.batch_id)) if job.batch_id else _none(),
        )
        if self.job is None or self.job.id != job.id:
            return  # another job is shown by now
        if isinstance(why, dict):
            self.why_label.setText(why_text(why))
        elif why is not None:
            self.why_label.setText(f"Cannot tell: {why}")
        lines = []
        for dep_id, dep in zip(job.depends_on, depends, strict=True):
            if isinstance(dep, Job):
                lines.append(f"{dep_id}  {dep.status.value}  ({dep.name})")
            else:
                lines.append(f"{dep_id}  {dep}")
        self.depends_label.setText("\n".join(lines))
        if isinstance(batch, dict):
            self.batch_label.setText(batch_text(batch))
        elif batch is not None:
            self.batch_label.setText(f"{job.batch_id}: {batch}")

    def on_again_button_clicked(self) -> None:
        self.show_job(self.job)

    def on_batch_button_clicked(self) -> None:
        if self.job is not None and self.job.batch_id:
            self.batch_requested.emit(self.job.batch_id)


async def _read(call: Awaitable[Any]) -> Any:
    """The call's value, or its error's message (shown in place of the value)."""
    try:
        return await call
    except JobdeskError as exc:
        return exc.message


async def _none() -> None:
    return None


def _text() -> widgets.QLabel:
    label = plain_label()
    label.setWordWrap(True)
    label.setTextInteractionFlags(core.Qt.TextInteractionFlag.TextSelectableByMouse)
    return label
