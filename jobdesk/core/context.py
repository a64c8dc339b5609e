"""What a handler receives: the job it runs and the means to report on it."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol


class JobOperations(Protocol):
    """Operations on other jobs of the running job's organization (bulk operations)."""

    def list_ids(self, filter: dict[str, Any], limit: int, after_id: str | None = None) -> list[str]: ...

    def cancel(self, job_id: str) -> None: ...

    def retry(self, job_id: str) -> None: ...

    def delete(self, job_id: str) -> None: ...


class JobContext(ABC):
    """Handed to every handler as its first argument.

    Attributes:
        job_id: the job's id (a UUID string).
        job_type: its registered type.
        attempt: 1 for the first run, 2 for the first retry, ...
        max_attempts: attempts allowed before the job fails for good.
        data_dir: the only directory jobs may read and write under.
        log: a logger whose records name the job.
        jobs: operations on other jobs of this job's organization.
    """

    job_id: str
    job_type: str
    attempt: int
    max_attempts: int
    data_dir: Path
    log: logging.Logger
    jobs: JobOperations

    @abstractmethod
    def progress(self, current: int, total: int, message: str | None = None) -> None:
        """Report progress; raises JobCancelled once the job has been cancelled."""

    @abstractmethod
    def check_cancelled(self) -> None:
        """Raise JobCancelled if the job has been cancelled."""

    @property
    @abstractmethod
    def cancelled(self) -> bool:
        """True once the job has been cancelled (for handlers that clean up first)."""

    @abstractmethod
    def create_child(
        self,
        job_type: str,
        data: dict[str, Any] | None = None,
        *,
        name: str | None = None,
        priority: int | None = None,
        max_attempts: int | None = None,
    ) -> str:
        """Create a job owned by this one (cancelled with it); returns its id."""

    @abstractmethod
    def children(self) -> list[dict[str, Any]]:
        """The child jobs' current state: dicts with id, type, status, progress, result, error."""

    @abstractmethod
    def cancel_children(self) -> int:
        """Cancel every unfinished child; returns how many were cancelled."""

    @abstractmethod
    def db(self) -> AbstractContextManager[Any]:
        """A PostgreSQL connection (psycopg, autocommit, dict rows) for the job's own tables."""

    def resolve_path(self, path: str) -> Path:
        """A path under data_dir; anything outside it, or with `..`, is refused."""
        from jobdesk.core.paths import resolve_under

        return resolve_under(self.data_dir, path)
