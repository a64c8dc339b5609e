"""The job table's columns: header, the server order each sorts by, and how a cell reads."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from jobdesk.ui.models.rows import JobRow


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    order: str | None  # the server's order name; None: not sortable
    text: Callable[[JobRow], str]
    width: int = 100
    numeric: bool = False


def local_time(value: datetime | None, now: datetime | None = None) -> str:
    if value is None:
        return ""
    local = value.astimezone()
    today = (now or datetime.now(UTC)).astimezone().date()
    return local.strftime("%H:%M:%S") if local.date() == today else local.strftime("%d %b %H:%M")


def human_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} m {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} m"


def duration(row: JobRow) -> str:
    if row.started_at is None:
        return ""
    end = row.completed_at or (datetime.now(UTC) if row.status == "active" else None)
    return human_duration((end - row.started_at).total_seconds()) if end else ""


def _cancelling(row: JobRow) -> bool:
    return row.cancel_requested and row.status == "active"


def status_text(row: JobRow) -> str:
    return f"{row.status} (cancelling)" if _cancelling(row) else row.status


def progress_text(row: JobRow) -> str:
    if row.status == "completed":
        return "100%"
    if row.progress_total <= 0:
        return "running…" if row.status == "active" else ""
    text = f"{row.percentage:.0f}%"
    return f"{text} · {row.progress_message}" if row.progress_message else text


COLUMNS: tuple[Column, ...] = (
    Column("name", "Name", "name", lambda r: r.name, 240),
    Column("type", "Type", "type", lambda r: r.type, 140),
    Column("queue", "Queue", "queue", lambda r: r.queue, 110),
    Column("status", "Status", "status", status_text, 125),
    Column("progress", "Progress", "progress", progress_text, 200),
    Column("priority", "Priority", "priority", lambda r: str(r.priority), 70, numeric=True),
    Column("attempts", "Attempts", "attempts", lambda r: f"{r.attempts}/{r.max_attempts}", 75, numeric=True),
    Column("created", "Created", "created", lambda r: local_time(r.created_at), 110),
    Column("duration", "Duration", None, duration, 90, numeric=True),
    Column("id", "ID", None, lambda r: r.id[:8], 90),
)
INDEX = {c.key: i for i, c in enumerate(COLUMNS)}
