"""A worker process's watch thread: heartbeats, cancellation, and interruption.

Every `cancel_poll_s` it asks PostgreSQL which of the jobs running here were
asked to stop and flags their contexts, so the next `ctx.progress()` raises
JobCancelled. A handler that has not stopped `cancel_grace_s` later gets
JobCancelled raised in its thread, as Dramatiq's time limits do. Every
`worker_heartbeat_s` it records the process in the workers table.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field

import psycopg
from dramatiq.threading import raise_thread_exception
from psycopg.rows import DictRow

from jobdesk.config import Settings
from jobdesk.core.errors import JobCancelled
from jobdesk.dispatch.context import WorkerJobContext
from jobdesk.store.db import connect_sync
from jobdesk.store.sql import q

log = logging.getLogger(__name__)


@dataclass
class Counters:
    processed: int = 0
    failed: int = 0


@dataclass
class _Running:
    ctx: WorkerJobContext
    cancel_seen: float | None = None
    interrupted: bool = False


@dataclass
class Monitor:
    settings: Settings
    worker_id: str
    queues: list[str]
    threads: int
    counters: Counters = field(default_factory=Counters)

    def __post_init__(self) -> None:
        self._running: dict[str, _Running] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="jobdesk-monitor", daemon=True)
        self._conn: psycopg.Connection[DictRow] | None = None

    def start(self) -> None:
        self._conn = connect_sync(self.settings.database_url)
        self._heartbeat()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        try:
            if self._conn is not None:
                self._conn.execute(q("worker_stopped"), {"id": self.worker_id})
                self._conn.close()
        except psycopg.Error as exc:
            log.warning("could not mark worker stopped: %s", exc)

    def add(self, ctx: WorkerJobContext) -> None:
        with self._lock:
            self._running[ctx.job_id] = _Running(ctx)

    def remove(self, job_id: str) -> None:
        with self._lock:
            self._running.pop(job_id, None)

    def _loop(self) -> None:
        next_beat = time.monotonic() + self.settings.worker_heartbeat_s
        while not self._stop.wait(self.settings.cancel_poll_s):
            try:
                self._check_cancellations()
                if time.monotonic() >= next_beat:
                    self._heartbeat()
                    next_beat = time.monotonic() + self.settings.worker_heartbeat_s
            except psycopg.Error as exc:
                log.warning("monitor lost PostgreSQL (%s); reconnecting", exc)
                self._reconnect()

    def _reconnect(self) -> None:
        try:
            if self._conn is not None:
                self._conn.close()
            self._conn = connect_sync(self.settings.database_url)
        except Exception as exc:
            log.warning("monitor cannot reconnect: %s", exc)
            time.sleep(1.0)

    def _check_cancellations(self) -> None:
        with self._lock:
            running = dict(self._running)
        if not running or self._conn is None:
            return
        rows = self._conn.execute(
            q("cancel_requested_among"), {"ids": [uuid.UUID(i) for i in running]}
        ).fetchall()
        now = time.monotonic()
        for row in rows:
            r = running.get(str(row["id"]))
            if r is None:
                continue
            if r.cancel_seen is None:
                r.cancel_seen = now
                r.ctx.mark_cancelled()
            elif not r.interrupted and now - r.cancel_seen >= self.settings.cancel_grace_s:
                # The handler ignored the flag: interrupt it in its thread.
                r.interrupted = True
                r.ctx.interrupted = True
                log.warning("interrupting job %s: it did not stop after cancellation", r.ctx.job_id)
                raise_thread_exception(r.ctx.thread_id, JobCancelled)

    def _heartbeat(self) -> None:
        if self._conn is None:
            return
        with self._lock:
            current = [uuid.UUID(i) for i in self._running]
        self._conn.execute(
            q("heartbeat"),
            {
                "id": self.worker_id,
                "host": socket.gethostname(),
                "pid": _pid(),
                "queues": self.queues,
                "threads": self.threads,
                "current_jobs": current,
                "processed": self.counters.processed,
                "failed": self.counters.failed,
            },
        )


def _pid() -> int:
    import os

    return os.getpid()
