"""The one place a worker moves jobs between states.

Handlers never touch status: this middleware marks a job active before its
handler runs (refusing duplicates and stale messages), and records the
outcome after it (completed, retry with backoff, failed, cancelled).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
import traceback
import uuid
from typing import Any

from dramatiq import Broker, Middleware, Worker
from dramatiq.middleware import SkipMessage
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from jobdesk.config import Settings
from jobdesk.core.backoff import retry_delay
from jobdesk.core.errors import JobCancelled
from jobdesk.core.prepare import Defaults
from jobdesk.core.registry import Registry
from jobdesk.dispatch.checker import StartChecker
from jobdesk.dispatch.context import WorkerJobContext
from jobdesk.dispatch.monitor import Monitor
from jobdesk.dispatch.writer import Finish, StateWriter
from jobdesk.store.db import SESSION, SyncPool

log = logging.getLogger(__name__)

_current = threading.local()
ERROR_MESSAGE_MAX = 2000
ERROR_STACK_MAX = 20000


def current_context() -> WorkerJobContext:
    ctx = getattr(_current, "ctx", None)
    if ctx is None:
        raise RuntimeError("no job is running in this thread")
    return ctx


def error_of(exc: BaseException) -> dict[str, Any]:
    stack = "".join(traceback.format_exception(exc))
    return {
        "message": (str(exc) or type(exc).__name__)[:ERROR_MESSAGE_MAX],
        "type": type(exc).__name__,
        "stack": stack[-ERROR_STACK_MAX:],
    }


class JobStateMiddleware(Middleware):
    def __init__(self, settings: Settings, registry: Registry) -> None:
        self.settings = settings
        self.registry = registry
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.writer: StateWriter | None = None
        self.checker = StartChecker(settings.database_url)
        self.monitor: Monitor | None = None
        self.pool: SyncPool | None = None
        self.defaults = Defaults(settings.backoff_base_s, settings.backoff_cap_s)

    # -- process lifecycle ----------------------------------------------------------

    def after_worker_boot(self, broker: Broker, worker: Worker) -> None:
        queues = sorted(worker.consumer_whitelist or broker.get_declared_queues())
        self.writer = StateWriter(
            self.settings.database_url, self.worker_id, self.settings.progress_interval_s
        )
        self.writer.start()
        self.checker.start()
        self.pool = ConnectionPool(
            self.settings.database_url,
            min_size=1,
            max_size=max(2, worker.worker_threads),
            kwargs={"autocommit": True, "row_factory": dict_row, **SESSION},
            name="jobdesk-worker",
        )
        self.monitor = Monitor(self.settings, self.worker_id, queues, worker.worker_threads)
        self.monitor.start()
        log.info("worker %s serving %s with %d threads", self.worker_id, queues, worker.worker_threads)

    def after_worker_shutdown(self, broker: Broker, worker: Worker) -> None:
        if self.monitor:
            self.monitor.stop()
        self.checker.stop()
        if self.writer:
            self.writer.stop()
        if self.pool:
            self.pool.close()

    # -- per message ---------------------------------------------------------------------

    def before_process_message(self, broker: Broker, message: Any) -> None:
        assert self.writer and self.pool and self.monitor
        job_id, token = message.args
        # A read, not a write: the writer records the start without holding us up.
        row = self.checker.check(job_id, int(token))
        if row is None:
            # A duplicate, a stale redelivery, or a job cancelled while queued.
            raise SkipMessage(f"job {job_id} (dispatch {token}) is not startable")
        ctx = WorkerJobContext(
            row, self.writer, self.pool, self.registry, self.settings.data_dir, self.defaults
        )
        _current.ctx = ctx
        _current.result = None
        self.monitor.add(ctx)
        self.writer.started(job_id, ctx.token, ctx.began)

    def on_fetch(self, message: Any) -> None:
        """A message just arrived from Redis: start checking its job (see checker.py)."""
        job_id, token = message.args
        self.checker.prefetch(job_id, int(token))

    def after_skip_message(self, broker: Broker, message: Any) -> None:
        _current.ctx = None

    def after_process_message(
        self, broker: Broker, message: Any, *, result: Any = None, exception: BaseException | None = None
    ) -> None:
        ctx: WorkerJobContext | None = getattr(_current, "ctx", None)
        _current.ctx = None
        if ctx is None or self.writer is None or self.monitor is None:
            return
        try:
            self.writer.finish(self._outcome(ctx, getattr(_current, "result", None), exception))
        finally:
            self.monitor.remove(ctx.job_id)
            _current.result = None

    def _outcome(self, ctx: WorkerJobContext, result: Any, exc: BaseException | None) -> Finish:
        assert self.monitor
        base = Finish(
            ctx.job_id,
            ctx.token,
            "completed",
            progress=ctx.last_progress,
            ran_for_s=time.monotonic() - ctx.began,
        )
        if exc is None:
            self.monitor.counters.processed += 1
            base.result = result
            return base
        if isinstance(exc, JobCancelled) or ctx.cancelled:
            base.outcome = "cancelled"
            base.error = {
                "message": "cancelled" + (" (interrupted)" if ctx.interrupted else ""),
                "stack": None,
            }
            return base
        self.monitor.counters.failed += 1
        base.error = error_of(exc)
        log.warning(
            "job %s (%s) attempt %d/%d failed: %s",
            ctx.job_id,
            ctx.job_type,
            ctx.attempt,
            ctx.max_attempts,
            base.error["message"],
        )
        if ctx.attempt < ctx.max_attempts:
            base.outcome = "retry"
            base.delay_s = retry_delay(
                ctx.attempt, ctx.row["backoff_base_ms"] / 1000, ctx.row["backoff_cap_ms"] / 1000
            )
        else:
            base.outcome = "failed"
        return base


def run_current(job_type: str, registry: Registry) -> None:
    """The body of every jobdesk actor: run the handler on the started job."""
    ctx = current_context()
    definition = registry.get(job_type)
    data = ctx.row["data"]
    if definition.is_async:
        result = asyncio.run(definition.handler(ctx, data))
    else:
        result = definition.handler(ctx, data)
    _current.result = result
