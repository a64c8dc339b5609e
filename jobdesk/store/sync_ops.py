"""The few job operations a worker's handler may run itself, synchronously.

Workflow steps create and watch child jobs, and bulk operations cancel,
retry or delete jobs; both run inside worker threads, so they use a plain
(sync) connection and the same named queries as the async service.
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from psycopg.rows import DictRow

from jobdesk.core.errors import InvalidTransition, JobNotFound
from jobdesk.core.jobs import Job
from jobdesk.core.prepare import NewJob
from jobdesk.store.jobs import new_job_params
from jobdesk.store.rows import row_to_job
from jobdesk.store.sql import q


def insert(conn: psycopg.Connection[DictRow], new: NewJob) -> Job:
    row = conn.execute(q("insert_job"), new_job_params(new)).fetchone()
    assert row is not None
    return row_to_job(row)


def children(conn: psycopg.Connection[DictRow], parent_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT * FROM jobs WHERE parent_id = %s ORDER BY created_at, id", (uuid.UUID(parent_id),)
    ).fetchall()
    out = []
    for row in rows:
        api = row_to_job(row).to_api()
        out.append(
            {k: api[k] for k in ("id", "type", "name", "status", "progress", "result", "error", "attempts")}
        )
    return out


def cancel_descendants(conn: psycopg.Connection[DictRow], parent_id: str) -> int:
    return len(conn.execute(q("cancel_descendants"), {"id": uuid.UUID(parent_id)}).fetchall())


def _classify(conn: psycopg.Connection[DictRow], job_id: str, org: str, action: str) -> None:
    row = conn.execute(
        "SELECT status FROM jobs WHERE id = %s AND organization_id = %s", (job_id, org)
    ).fetchone()
    if row is None:
        raise JobNotFound(job_id)
    raise InvalidTransition(f"cannot {action} job {job_id}: it is {row['status']}")


def cancel(conn: psycopg.Connection[DictRow], job_id: str, org: str) -> None:
    params = {"id": _uuid(job_id), "org": org}
    if conn.execute(q("cancel_pending"), params).fetchone():
        cancel_descendants(conn, job_id)
        return
    if conn.execute(q("request_cancel_active"), params).fetchone():
        cancel_descendants(conn, job_id)
        return
    _classify(conn, job_id, org, "cancel")


def retry(conn: psycopg.Connection[DictRow], job_id: str, org: str) -> None:
    if not conn.execute(q("retry_job"), {"id": _uuid(job_id), "org": org}).fetchone():
        _classify(conn, job_id, org, "retry")


def delete(conn: psycopg.Connection[DictRow], job_id: str, org: str) -> None:
    """Finished jobs only: deleting a running job would hide work still going on."""
    row = conn.execute(
        "DELETE FROM jobs WHERE id = %s AND organization_id = %s"
        " AND status IN ('completed', 'failed', 'cancelled') RETURNING id",
        (_uuid(job_id), org),
    ).fetchone()
    if row is None:
        _classify(conn, job_id, org, "delete")


def list_ids(
    conn: psycopg.Connection[DictRow], org: str, flt: dict[str, Any], limit: int, after_id: str | None
) -> list[str]:
    clauses = ["organization_id = %s"]
    params: list[Any] = [org]
    for key in ("type", "status", "queue"):
        if flt.get(key):
            clauses.append(f"{key} = %s")
            params.append(flt[key])
    if after_id:
        clauses.append("id > %s")
        params.append(_uuid(after_id))
    params.append(limit)
    rows = conn.execute(
        f"SELECT id FROM jobs WHERE {' AND '.join(clauses)} ORDER BY id LIMIT %s", params
    ).fetchall()
    return [str(r["id"]) for r in rows]


def _uuid(job_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(job_id))
    except ValueError:
        raise JobNotFound(job_id) from None
