"""A client that needs no server, for a widget's own tests (EXAMPLES.md allows a fake there)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from jobdesk.client.base import EventCallback, JobPage, JobQuery, JobsClient, JobType
from jobdesk.core.errors import JobNotFound
from jobdesk.core.jobs import Job, JobStatus, Progress

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def make_job(n: int, **changes: Any) -> Job:
    values: dict[str, Any] = {
        "id": str(uuid.UUID(int=n + 1)),
        "type": "test.sleep",
        "name": f"job {n:06d}",
        "queue": "test",
        "status": JobStatus.PENDING,
        "priority": 0,
        "data": {},
        "user_id": "u",
        "organization_id": "o",
        "created_at": T0 + timedelta(seconds=n),
        "updated_at": T0 + timedelta(seconds=n),
    }
    values.update(changes)
    return Job(**values)


def advanced(job: Job, seconds: float, **changes: Any) -> Job:
    """The same job, later, changed."""
    values = {f: getattr(job, f) for f in job.__dataclass_fields__}
    values.update(changes)
    values["updated_at"] = job.updated_at + timedelta(seconds=seconds)
    return Job(**values)


class FakeClient(JobsClient):
    """Jobs in a list, newest first; counts list calls so tests can see what was asked."""

    endpoint = "fake"

    def __init__(self, jobs: list[Job]) -> None:
        self.jobs = sorted(jobs, key=lambda j: j.created_at, reverse=True)
        self.list_calls: list[tuple[JobQuery, int, int]] = []
        self.subscribers: list[EventCallback] = []

    async def list_jobs(self, query: JobQuery, *, limit: int = 100, offset: int = 0) -> JobPage:
        self.list_calls.append((query, limit, offset))
        matching = [
            j
            for j in self.jobs
            if (query.status is None or j.status.value == query.status)
            and (query.search is None or query.search in j.name)
        ]
        return JobPage(matching[offset : offset + limit], len(matching), limit, offset)

    async def get_job(self, job_id: str) -> Job:
        for j in self.jobs:
            if j.id == job_id:
                return j
        raise JobNotFound(job_id)

    async def create_job(self, spec: dict[str, Any]) -> Job:
        raise NotImplementedError

    async def cancel_job(self, job_id: str) -> Job:
        raise NotImplementedError

    async def retry_job(self, job_id: str) -> Job:
        raise NotImplementedError

    async def job_types(self) -> list[JobType]:
        return [JobType("test.sleep", "test")]

    async def stats(self) -> dict[str, Any]:
        return {}

    async def throughput(self, minutes: int = 60) -> list[dict[str, Any]]:
        return []

    async def queues(self) -> list[dict[str, Any]]:
        return []

    async def set_queue_paused(self, name: str, paused: bool) -> dict[str, Any]:
        return {"name": name, "paused": paused}

    async def workers(self) -> list[dict[str, Any]]:
        return []

    def subscribe(self, callback: EventCallback) -> Callable[[], None]:
        self.subscribers.append(callback)
        return lambda: self.subscribers.remove(callback)

    async def close(self) -> None:
        return None


__all__ = ["FakeClient", "Progress", "advanced", "make_job"]
