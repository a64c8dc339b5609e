"""Running a handler in-process, without Redis, workers or the job table.

`InlineContext` is a complete JobContext for tests of job types (the
built-ins' and a user's own): it records progress, can be cancelled at a
chosen moment to prove a handler stops, runs child jobs inline through the
registry, and opens a database connection when given a URL.

    ctx = InlineContext(tmp_path)
    result = run_inline(ctx, "data-conversion", {"inputPath": "a.csv", "outputFormat": "json"})
"""

from __future__ import annotations

import contextlib
import logging
import traceback
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from jobdesk.core.context import JobContext
from jobdesk.core.errors import JobCancelled
from jobdesk.core.registry import registry


class InlineContext(JobContext):
    """A JobContext that keeps everything in memory.

    Attributes:
        updates: every progress call, as (current, total, message).
        cancel_after: cancel the job at the progress call with this number (1-based).
        run_children: run a child's handler when children() is next read; False
            leaves children pending for a test to settle with `settle_child`.
        jobs: what a handler finds as `ctx.jobs` (bulk operations on jobs).
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        job_type: str = "test",
        attempt: int = 1,
        max_attempts: int = 3,
        cancel_after: int | None = None,
        database_url: str | None = None,
        run_children: bool = True,
        jobs: Any = None,
        job_id: str | None = None,
    ) -> None:
        self.job_id = job_id or str(uuid.uuid4())
        self.job_type = job_type
        self.attempt = attempt
        self.max_attempts = max_attempts
        self.data_dir = Path(data_dir)
        self.log = logging.getLogger(f"jobdesk.job.{self.job_id}")
        self.updates: list[tuple[int, int, str | None]] = []
        self.cancel_after = cancel_after
        self.database_url = database_url
        self.run_children = run_children
        self.jobs = jobs
        self.child_jobs: dict[str, dict[str, Any]] = {}
        self.on_progress: Callable[[InlineContext], None] | None = None
        self._cancelled = False

    # -- progress and cancellation ------------------------------------------

    def progress(self, current: int, total: int, message: str | None = None) -> None:
        self.updates.append((current, total, message))
        if self.cancel_after is not None and len(self.updates) >= self.cancel_after:
            self.cancel()
        if self.on_progress is not None:
            self.on_progress(self)
        self.check_cancelled()

    def check_cancelled(self) -> None:
        if self._cancelled:
            raise JobCancelled()

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def cancel(self) -> None:
        self._cancelled = True

    # -- children -----------------------------------------------------------

    def create_child(
        self,
        job_type: str,
        data: dict[str, Any] | None = None,
        *,
        name: str | None = None,
        priority: int | None = None,
        max_attempts: int | None = None,
    ) -> str:
        definition = registry.get(job_type)
        child_id = str(uuid.uuid4())
        self.child_jobs[child_id] = {
            "id": child_id,
            "type": job_type,
            "name": name or job_type,
            "status": "pending",
            "data": definition.validate_data(data or {}),
            "progress": {"current": 0, "total": 0, "percentage": 0.0, "message": None},
            "result": None,
            "error": None,
        }
        return child_id

    def children(self) -> list[dict[str, Any]]:
        if self.run_children:
            for child in self.child_jobs.values():
                if child["status"] == "pending":
                    self._run_child(child)
        return [{k: v for k, v in c.items() if k != "data"} for c in self.child_jobs.values()]

    def cancel_children(self) -> int:
        count = 0
        for child in self.child_jobs.values():
            if child["status"] in ("pending", "active"):
                child["status"] = "cancelled"
                count += 1
        return count

    def settle_child(self, child_id: str, status: str, **fields: Any) -> None:
        """Move a child to `status` (and set result, error or progress), as the engine would."""
        self.child_jobs[child_id].update(status=status, **fields)

    def _run_child(self, child: dict[str, Any]) -> None:
        child_ctx = InlineContext(
            self.data_dir, job_type=child["type"], database_url=self.database_url, jobs=self.jobs
        )
        child["status"] = "active"
        try:
            child["result"] = registry.get(child["type"]).handler(child_ctx, child["data"])
            child["status"] = "completed"
        except JobCancelled:
            child["status"] = "cancelled"
        except Exception as exc:
            child["status"] = "failed"
            child["error"] = {"message": str(exc), "stack": traceback.format_exc()}
        child["progress"] = {"current": 1, "total": 1, "percentage": 100.0, "message": None}

    # -- database -----------------------------------------------------------

    @contextlib.contextmanager
    def db(self) -> Iterator[Any]:
        """A psycopg connection (autocommit, dict rows), as the engine's context gives."""
        if self.database_url is None:
            raise RuntimeError("InlineContext was given no database_url")
        import psycopg
        from psycopg.rows import dict_row

        with psycopg.connect(self.database_url, autocommit=True, row_factory=dict_row) as conn:
            yield conn


def run_inline(ctx: InlineContext, job_type: str, data: dict[str, Any]) -> Any:
    """Validate `data` as job creation would, then run the type's handler in ctx."""
    definition = registry.get(job_type)
    ctx.job_type = job_type
    return definition.handler(ctx, definition.validate_data(data))
