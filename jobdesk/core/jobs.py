"""The job record as the rest of the system sees it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class JobStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})

PRIORITY_MIN = -1000
PRIORITY_MAX = 1000
MAX_ATTEMPTS_LIMIT = 100


@dataclass(frozen=True, slots=True)
class Progress:
    current: int = 0
    total: int = 0
    message: str | None = None

    @property
    def percentage(self) -> float:
        if self.total <= 0:
            return 0.0
        return round(min(100.0, 100.0 * self.current / self.total), 2)

    def to_api(self) -> dict[str, Any]:
        return {
            "current": self.current,
            "total": self.total,
            "percentage": self.percentage,
            "message": self.message,
        }


@dataclass(slots=True)
class Job:
    id: str
    type: str
    name: str
    queue: str
    status: JobStatus
    priority: int
    data: dict[str, Any]
    user_id: str
    organization_id: str
    created_at: datetime
    updated_at: datetime
    description: str | None = None
    progress: Progress = field(default_factory=Progress)
    result: Any = None
    error: dict[str, Any] | None = None
    attempts: int = 0
    max_attempts: int = 3
    started_at: datetime | None = None
    completed_at: datetime | None = None
    run_at: datetime | None = None
    cancel_requested_at: datetime | None = None
    worker_id: str | None = None
    parent_id: str | None = None
    batch_id: str | None = None
    depends_on: list[str] = field(default_factory=list)
    dependency_policy: str = "fail"
    notify: list[dict[str, Any]] = field(default_factory=list)
    attempt_log: list[dict[str, Any]] = field(default_factory=list)

    @property
    def duration_s(self) -> float | None:
        if self.started_at and self.completed_at:
            return (self.completed_at - self.started_at).total_seconds()
        return None

    def to_api(self) -> dict[str, Any]:
        """The contract's job object, camelCase."""
        return {
            "id": self.id,
            "type": self.type,
            "name": self.name,
            "description": self.description,
            "queue": self.queue,
            "status": self.status.value,
            "priority": self.priority,
            "data": self.data,
            "progress": self.progress.to_api(),
            "result": self.result,
            "error": self.error,
            "attempts": self.attempts,
            "maxAttempts": self.max_attempts,
            "userId": self.user_id,
            "organizationId": self.organization_id,
            "createdAt": _iso(self.created_at),
            "updatedAt": _iso(self.updated_at),
            "startedAt": _iso(self.started_at),
            "completedAt": _iso(self.completed_at),
            "runAt": _iso(self.run_at),
            "cancelRequested": self.cancel_requested_at is not None,
            "workerId": self.worker_id,
            "parentId": self.parent_id,
            "batchId": self.batch_id,
            "dependsOn": list(self.depends_on),
            "dependencyPolicy": self.dependency_policy,
            "notify": list(self.notify),
            "attemptLog": self.attempt_log,
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
