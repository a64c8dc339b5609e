"""Mapping database rows to core objects."""

from __future__ import annotations

from typing import Any

from jobdesk.core.jobs import Job, JobStatus, Progress


def row_to_job(row: dict[str, Any]) -> Job:
    return Job(
        id=str(row["id"]),
        type=row["type"],
        name=row["name"],
        description=row["description"],
        queue=row["queue"],
        status=JobStatus(row["status"]),
        priority=row["priority"],
        data=row["data"],
        progress=Progress(row["progress_current"], row["progress_total"], row["progress_message"]),
        result=row["result"],
        error=row["error"],
        attempts=row["attempts"],
        max_attempts=row["max_attempts"],
        user_id=row["user_id"],
        organization_id=row["organization_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        started_at=row["started_at"],
        completed_at=row["completed_at"],
        run_at=row["run_at"],
        cancel_requested_at=row["cancel_requested_at"],
        worker_id=row["worker_id"],
        parent_id=str(row["parent_id"]) if row["parent_id"] else None,
        batch_id=str(row["batch_id"]) if row["batch_id"] else None,
        depends_on=[str(d) for d in row["depends_on"] or []],
        dependency_policy=row.get("dependency_policy", "fail"),
        notify=row.get("notify") or [],
        attempt_log=row["attempt_log"] or [],
    )
