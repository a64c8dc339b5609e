"""The contract's JSON, read back into core objects: jobs, events and errors."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jobdesk.core import errors
from jobdesk.core.events import EventName, JobEvent
from jobdesk.core.jobs import Job, JobStatus, Progress

_EVENTS = {e.value: e for e in EventName}

# The error codes a server sends, to the errors a local call would have raised.
_BY_STATUS: dict[int, type[errors.JobdeskError]] = {
    401: errors.Unauthorized,
    403: errors.Forbidden,
    404: errors.NotFound,
    409: errors.InvalidTransition,
    422: errors.InvalidInput,
    400: errors.InvalidInput,
    503: errors.ServiceUnavailable,
}


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def job_from_api(d: dict[str, Any]) -> Job:
    progress = d.get("progress") or {}
    created = _time(d.get("createdAt"))
    assert created is not None, "a job always has createdAt"
    return Job(
        id=str(d["id"]),
        type=d["type"],
        name=d.get("name") or d["type"],
        queue=d.get("queue") or "",
        status=JobStatus(d["status"]),
        priority=int(d.get("priority") or 0),
        data=d.get("data") or {},
        user_id=d.get("userId") or "",
        organization_id=d.get("organizationId") or "",
        created_at=created,
        updated_at=_time(d.get("updatedAt")) or created,
        description=d.get("description"),
        progress=Progress(
            int(progress.get("current") or 0), int(progress.get("total") or 0), progress.get("message")
        ),
        result=d.get("result"),
        error=d.get("error"),
        attempts=int(d.get("attempts") or 0),
        max_attempts=int(d.get("maxAttempts") or 1),
        started_at=_time(d.get("startedAt")),
        completed_at=_time(d.get("completedAt")),
        run_at=_time(d.get("runAt")),
        cancel_requested_at=created if d.get("cancelRequested") else None,
        worker_id=d.get("workerId"),
        parent_id=d.get("parentId"),
        batch_id=d.get("batchId"),
        depends_on=list(d.get("dependsOn") or []),
        attempt_log=list(d.get("attemptLog") or []),
    )


def event_from_wire(message: dict[str, Any]) -> JobEvent | None:
    """A job event from one WebSocket message; None for anything else (acks, pongs, errors)."""
    name = _EVENTS.get(str(message.get("event")))
    data = message.get("data")
    if name is None or not isinstance(data, dict):
        return None
    return JobEvent(name, job_from_api(data))


def error_from_response(status: int, body: Any) -> errors.JobdeskError:
    """`{"error": {"code", "message"}}` as the JobdeskError the same failure raises in-process."""
    detail = body.get("error") if isinstance(body, dict) else None
    message = str(detail.get("message")) if isinstance(detail, dict) else f"the server answered {status}"
    cls = _BY_STATUS.get(status, errors.JobdeskError)
    error = cls.__new__(cls)
    errors.JobdeskError.__init__(error, message)
    return error
