"""Lifecycle and progress events, as the WebSocket contract names them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from jobdesk.core.jobs import Job, JobStatus


class EventName(StrEnum):
    CREATED = "job-created"
    UPDATE = "job-update"
    COMPLETED = "job-completed"
    FAILED = "job-failed"
    CANCELLED = "job-cancelled"


FINAL_EVENT = {
    JobStatus.COMPLETED: EventName.COMPLETED,
    JobStatus.FAILED: EventName.FAILED,
    JobStatus.CANCELLED: EventName.CANCELLED,
}


def event_for_status(status: JobStatus) -> EventName:
    return FINAL_EVENT.get(status, EventName.UPDATE)


@dataclass(frozen=True, slots=True)
class JobEvent:
    """An event and the job as it was read after the write it describes."""

    name: EventName
    job: Job

    def to_wire(self) -> dict[str, object]:
        return {"event": self.name.value, "data": self.job.to_api()}
