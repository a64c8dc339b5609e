"""Columns of the queue and worker tables (the overview shows shorter versions of the same)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jobdesk.ui import resources
from jobdesk.ui.models.records import Field


def ago(iso: str | None, now: datetime | None = None) -> str:
    if not iso:
        return ""
    try:
        then = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    seconds = max(0.0, ((now or datetime.now(UTC)) - then).total_seconds())
    if seconds < 60:
        return f"{seconds:.0f} s ago"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min ago"
    return then.astimezone().strftime("%d %b %H:%M")


def _count(key: str) -> Field:
    return Field(key.capitalize(), lambda r: f"{r.get(key, 0):,}", numeric=True)


def _paused_colour(record: dict[str, Any]) -> Any:
    return resources.current().status_color("pending" if record.get("paused") else "completed")


QUEUE_FIELDS = [
    Field("Queue", lambda r: str(r["name"])),
    Field("State", lambda r: "paused" if r.get("paused") else "running", foreground=_paused_colour),
    _count("pending"),
    _count("active"),
    _count("failed"),
    # Set while a rate limit keeps the dispatcher from sending the queue's jobs: which, and why.
    Field("Held back", lambda r: str(r.get("heldBack") or "")),
]

WORKER_FIELDS = [
    Field("Host", lambda r: str(r.get("host", ""))),
    Field("PID", lambda r: str(r.get("pid", "")), numeric=True),
    Field("Queues", lambda r: ", ".join(r.get("queues") or []) or "all"),
    Field("Threads", lambda r: str(r.get("threads", "")), numeric=True),
    Field("Current jobs", lambda r: str(len(r.get("currentJobs") or [])), numeric=True),
    Field("Processed", lambda r: f"{r.get('processed', 0):,}", numeric=True),
    Field("Failed", lambda r: f"{r.get('failed', 0):,}", numeric=True),
    Field("Started", lambda r: ago(r.get("startedAt"))),
    Field("Last heartbeat", lambda r: ago(r.get("lastHeartbeat"))),
]

WORKER_SUMMARY_FIELDS = [WORKER_FIELDS[0], WORKER_FIELDS[1], WORKER_FIELDS[4], WORKER_FIELDS[8]]
