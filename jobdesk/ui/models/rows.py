"""The few fields of a job that a table row shows, and the client-side view of a query.

The table keeps these, not whole `Job`s: a job's data and result can be
large, and the detail pane reads them fresh when it needs them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jobdesk.client.base import JobQuery
from jobdesk.core.jobs import Job


@dataclass(slots=True)
class JobRow:
    id: str
    name: str
    type: str
    queue: str
    status: str
    priority: int
    attempts: int
    max_attempts: int
    progress_current: int
    progress_total: int
    progress_message: str | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    error: str | None
    cancel_requested: bool
    batch_id: str | None = None

    @classmethod
    def from_job(cls, job: Job) -> JobRow:
        error = job.error.get("message") if isinstance(job.error, dict) else None
        return cls(
            job.id,
            job.name,
            job.type,
            job.queue,
            job.status.value,
            job.priority,
            job.attempts,
            job.max_attempts,
            job.progress.current,
            job.progress.total,
            job.progress.message,
            job.created_at,
            job.updated_at,
            job.started_at,
            job.completed_at,
            str(error) if error is not None else None,
            job.cancel_requested_at is not None,
            job.batch_id,
        )

    @property
    def percentage(self) -> float:
        if self.status == "completed":
            return 100.0
        if self.progress_total <= 0:
            return 0.0
        return min(100.0, 100.0 * self.progress_current / self.progress_total)

    def newer_than(self, other: JobRow) -> bool:
        return self.updated_at >= other.updated_at


def matches(query: JobQuery, row: JobRow) -> bool:
    """Whether the server would list `row` for `query` (its filters; order aside)."""
    if query.type is not None and row.type != query.type:
        return False
    if query.status is not None and row.status != query.status:
        return False
    if query.queue is not None and row.queue != query.queue:
        return False
    if query.batch_id is not None and row.batch_id != query.batch_id:
        return False
    if query.search:
        needle = query.search.lower()
        if needle not in row.name.lower() and not row.id.startswith(needle):
            return False
    return True


def sort_key(order: str, row: JobRow) -> Any:
    """The row's place in the server's order; close enough to slot a new job among loaded rows."""
    if order == "progress":
        return row.percentage / 100.0
    if order == "created":
        return row.created_at
    if order == "updated":
        return row.updated_at
    value = getattr(row, order, None)
    return value.lower() if isinstance(value, str) else value
