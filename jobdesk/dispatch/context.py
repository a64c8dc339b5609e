"""The JobContext a worker hands to each handler."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import DictRow

from jobdesk.core.context import JobContext
from jobdesk.core.errors import JobCancelled
from jobdesk.core.prepare import Defaults, prepare
from jobdesk.core.registry import Registry
from jobdesk.dispatch.writer import StateWriter
from jobdesk.store import sync_ops
from jobdesk.store.db import SyncPool


class JobOps:
    """Bulk operations on jobs, confined to the running job's organization."""

    def __init__(self, pool: SyncPool, organization_id: str) -> None:
        self._pool = pool
        self._org = organization_id

    def list_ids(self, filter: dict[str, Any], limit: int, after_id: str | None = None) -> list[str]:
        with self._pool.connection() as conn:
            return sync_ops.list_ids(conn, self._org, filter, limit, after_id)

    def cancel(self, job_id: str) -> None:
        with self._pool.connection() as conn:
            sync_ops.cancel(conn, job_id, self._org)

    def retry(self, job_id: str) -> None:
        with self._pool.connection() as conn:
            sync_ops.retry(conn, job_id, self._org)

    def delete(self, job_id: str) -> None:
        with self._pool.connection() as conn:
            sync_ops.delete(conn, job_id, self._org)


class WorkerJobContext(JobContext):
    def __init__(
        self,
        row: dict[str, Any],
        writer: StateWriter,
        pool: SyncPool,
        registry: Registry,
        data_dir: Path,
        defaults: Defaults,
    ) -> None:
        self.job_id = str(row["id"])
        self.job_type = row["type"]
        self.attempt = row["attempts"]
        self.max_attempts = row["max_attempts"]
        self.data_dir = data_dir
        self.log = logging.getLogger(f"jobdesk.job.{self.job_type}")
        self.token: int = row["dispatch_token"]
        self.row = row
        self.thread_id = threading.get_ident()
        self.began = time.monotonic()
        self.last_progress: tuple[int, int, str | None] | None = None
        self.jobs = JobOps(pool, row["organization_id"])
        self._writer = writer
        self._pool = pool
        self._registry = registry
        self._defaults = defaults
        self._cancelled = threading.Event()
        self.interrupted = False

    # -- cancellation ---------------------------------------------------------------

    def mark_cancelled(self) -> None:
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def check_cancelled(self) -> None:
        if self._cancelled.is_set():
            raise JobCancelled(f"job {self.job_id} was cancelled")

    # -- progress -------------------------------------------------------------------

    def progress(self, current: int, total: int, message: str | None = None) -> None:
        self.check_cancelled()
        current, total = int(current), int(total)
        self.last_progress = (current, total, message)
        self._writer.progress(self.job_id, self.token, current, total, message)

    # -- children and the database --------------------------------------------------------

    def create_child(
        self,
        job_type: str,
        data: dict[str, Any] | None = None,
        *,
        name: str | None = None,
        priority: int | None = None,
        max_attempts: int | None = None,
    ) -> str:
        spec: dict[str, Any] = {"type": job_type, "data": data or {}}
        if name is not None:
            spec["name"] = name
        spec["priority"] = self.row["priority"] if priority is None else priority
        if max_attempts is not None:
            spec["maxAttempts"] = max_attempts
        new = prepare(
            spec,
            self.row["user_id"],
            self.row["organization_id"],
            self._registry,
            self._defaults,
            parent_id=self.job_id,
        )
        with self._pool.connection() as conn:
            return sync_ops.insert(conn, new).id

    def children(self) -> list[dict[str, Any]]:
        with self._pool.connection() as conn:
            return sync_ops.children(conn, self.job_id)

    def cancel_children(self) -> int:
        with self._pool.connection() as conn:
            return sync_ops.cancel_descendants(conn, self.job_id)

    @contextmanager
    def db(self) -> Iterator[psycopg.Connection[DictRow]]:
        with self._pool.connection() as conn:
            yield conn
