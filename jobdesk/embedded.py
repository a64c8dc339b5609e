"""The console's in-process client: the engine (or the whole server) on the console's own loop.

A composition module, like app.py: it may import the service layer, which the
`jobdesk.client` package and the ui may not. `jobdesk gui` hands an
`EmbeddedConnector` to the ui, which knows it only as a `Connector`.
"""

from __future__ import annotations

import getpass
import importlib
import logging
from collections.abc import Callable
from types import ModuleType
from typing import Any

from pydantic import ValidationError

from jobdesk.client.base import (
    BatchCallback,
    BatchPage,
    ConnectOptions,
    EventCallback,
    JobPage,
    JobQuery,
    JobsClient,
    JobType,
)
from jobdesk.client.schema import example_from_schema
from jobdesk.config import Settings, load_settings
from jobdesk.core.errors import InvalidInput, ServiceUnavailable
from jobdesk.core.jobs import Job
from jobdesk.core.registry import Registry, describe, load_job_modules
from jobdesk.service.engine import Engine
from jobdesk.service.jobs import LIST_LIMIT_MAX, JobsService
from jobdesk.service.local_workers import LocalWorkers
from jobdesk.service.notifications import NotificationsService
from jobdesk.service.schedules import SchedulesService

log = logging.getLogger(__name__)

# Jobs created from the console belong to the operator, in the CLI's default organization.
CONSOLE_ORG = "default"


class EmbeddedClient(JobsClient):
    """JobsClient over the engine running in this process; sees every organization's jobs.

    Attributes:
        engine: the engine (the server's, when the REST/WebSocket server is hosted too).
        server: the hosted server, or None when only the engine runs.
    """

    def __init__(self, engine: Engine, workers: LocalWorkers, server: Any | None = None) -> None:
        self.engine = engine
        self.server = server
        self.worker_processes = workers
        self.local_workers = workers
        self.user = getpass.getuser()
        if server is not None:
            self.endpoint = f"embedded server (REST :{server.api_port}, WebSocket :{server.ws_port})"
        else:
            self.endpoint = "embedded engine"

    @property
    def service(self) -> JobsService:
        return self.engine.service

    async def list_jobs(
        self, query: JobQuery, *, limit: int = 100, offset: int = 0, cursor: str | None = None
    ) -> JobPage:
        page = await self.service.list_jobs(
            None,
            type=query.type,
            status=query.status,
            queue=query.queue,
            search=query.search,
            order=query.order,
            descending=query.descending,
            batch_id=query.batch_id,
            limit=min(limit, LIST_LIMIT_MAX),
            offset=offset,
            cursor=cursor,
        )
        return JobPage(page.items, page.total, page.limit, page.offset, page.next_cursor)

    async def get_job(self, job_id: str) -> Job:
        return await self.service.get_job(job_id)

    async def validate_job(self, spec: dict[str, Any]) -> None:
        self.service.prepare(self.user, CONSOLE_ORG, spec)

    async def create_job(self, spec: dict[str, Any]) -> Job:
        return await self.service.create_job(self.user, CONSOLE_ORG, spec)

    async def cancel_job(self, job_id: str) -> Job:
        return await self.service.cancel_job(job_id)

    async def retry_job(self, job_id: str) -> Job:
        return await self.service.retry_job(job_id)

    async def job_types(self) -> list[JobType]:
        return job_types(self.engine.registry)

    async def stats(self) -> dict[str, Any]:
        return await self.service.stats()

    async def throughput(self, minutes: int = 60) -> list[dict[str, Any]]:
        return await self.service.throughput(None, minutes)

    async def queues(self) -> list[dict[str, Any]]:
        return await self.service.queues()

    async def set_queue_paused(self, name: str, paused: bool) -> dict[str, Any]:
        return await self.service.set_queue_paused(name, paused)

    async def workers(self) -> list[dict[str, Any]]:
        return await self.service.workers()

    # -- flow control, schedules (an admin's view: every organization) -----------------------------

    async def why(self, job_id: str) -> dict[str, Any]:
        return await self.engine.flow.explain(job_id)

    async def batch(self, batch_id: str) -> dict[str, Any]:
        return await self.engine.flow.get_batch(batch_id)

    async def batches(self, *, open_only: bool = False, limit: int = 100, offset: int = 0) -> BatchPage:
        page = await self.engine.flow.list_batches(None, open_only=open_only, limit=limit, offset=offset)
        return BatchPage(page["items"], page["total"], page["limit"], page["offset"])

    async def dead_letters(self, limit: int = 100, offset: int = 0, *, cursor: str | None = None) -> JobPage:
        page = await self.engine.flow.dead_letters(
            limit=min(limit, LIST_LIMIT_MAX), offset=offset, cursor=cursor
        )
        return JobPage(page.items, page.total, page.limit, page.offset, page.next_cursor)

    async def requeue_dead(self, ids: list[str] | None = None) -> int:
        return await self.engine.flow.requeue_dead(ids=ids)

    async def purge_dead(self, ids: list[str] | None = None) -> int:
        return await self.engine.flow.purge_dead(ids=ids)

    async def schedules(self) -> list[dict[str, Any]]:
        return [s.to_api() for s in await self._schedules().list_schedules()]

    async def set_schedule_enabled(self, ref: str, enabled: bool) -> dict[str, Any]:
        return (await self._schedules().set_schedule_enabled(ref, enabled)).to_api()

    async def remove_schedule(self, ref: str) -> dict[str, Any]:
        return (await self._schedules().remove_schedule(ref)).to_api()

    async def rate_limits(self) -> list[dict[str, Any]]:
        return await self.engine.flow.rate_limits()

    async def set_rate_limit(
        self, scope: str, key: str, *, per_second: float | None = None, max_concurrent: int | None = None
    ) -> dict[str, Any]:
        return await self.engine.flow.set_rate_limit(
            scope, key, per_second=per_second, max_concurrent=max_concurrent
        )

    async def remove_rate_limit(self, scope: str, key: str) -> None:
        await self.engine.flow.remove_rate_limit(scope, key)

    async def notification_rules(self, job_type: str | None = None) -> list[dict[str, Any]]:
        return [r.to_api() for r in await self._notifications().list_rules(None, job_type)]

    async def add_notification_rule(self, spec: dict[str, Any]) -> dict[str, Any]:
        return (await self._notifications().add_rule(CONSOLE_ORG, spec)).to_api()

    async def remove_notification_rule(self, rule_id: str) -> dict[str, Any]:
        return (await self._notifications().remove_rule(rule_id)).to_api()

    def _notifications(self) -> NotificationsService:
        """The hosted server's rules service; rules are rows, so the engine alone can keep them too."""
        extras = getattr(self.server, "extras", None)
        if extras is not None:
            service: NotificationsService = extras.notifications
            return service
        return NotificationsService(self.engine.store, self.engine.registry)

    def _schedules(self) -> SchedulesService:
        """The hosted server's SchedulesService; the engine alone runs no scheduler."""
        extras = getattr(self.server, "extras", None)
        if extras is None:
            raise self._lacks("schedules (they need the embedded server)")
        schedules: SchedulesService = extras.schedules
        return schedules

    def subscribe(self, callback: EventCallback) -> Callable[[], None]:
        return self.engine.hub.subscribe(callback)

    def on_resync(self, callback: Callable[[], None]) -> None:
        self.engine.hub.on_resync(callback)

    def on_batch_completed(self, callback: BatchCallback) -> None:
        def on_other(event: str, subject: str) -> None:
            if event == "batch-completed":
                callback(subject)

        self.engine.hub.on_other(on_other)

    async def close(self) -> None:
        if self.server is not None:
            await self.server.stop()
            await self.worker_processes.stop()  # already stopped by the server; harmless twice
            return
        await self.worker_processes.stop()
        await self.engine.stop()


def job_types(registry: Registry) -> list[JobType]:
    out = []
    for d in registry:
        schema = d.schema.model_json_schema() if d.schema is not None else None
        example = example_from_schema(schema)
        out.append(JobType(d.type, d.queue, d.max_attempts, d.description, schema, example))
    return out


class EmbeddedConnector:
    """Starts the engine (or the server, once `jobdesk.server.runtime` exists) and the local workers."""

    def __init__(self, base: Settings, *, workers: int = 2, threads: int = 8) -> None:
        self.base = base
        self.workers = workers
        self.threads = threads

    def defaults(self) -> ConnectOptions:
        return ConnectOptions(
            database_url=self.base.database_url,
            redis_url=self.base.redis,
            api_port=self.base.api_port,
            ws_port=self.base.ws_port,
            workers=self.workers,
            threads=self.threads,
        )

    async def connect(self, options: ConnectOptions) -> EmbeddedClient:
        settings = _settings(self.base, options)
        try:
            registry = load_job_modules(settings.job_module_list)
        except ImportError as exc:
            raise InvalidInput(str(exc)) from None
        try:
            return await _start(settings, registry, options)
        except OSError as exc:  # e.g. a port already in use
            raise ServiceUnavailable(f"cannot start the server: {exc.strerror or exc}") from None


def _settings(base: Settings, options: ConnectOptions) -> Settings:
    overrides = {
        "database_url": options.database_url,
        "redis_url": options.redis_url,
        "api_port": options.api_port,
        "ws_port": options.ws_port,
    }
    try:
        # Explicit values outrank the environment; validation runs again on the merged whole.
        return load_settings(**{**base.model_dump(), **overrides})
    except ValidationError as exc:
        raise InvalidInput(f"invalid settings: {describe(exc)}") from None


async def _start(settings: Settings, registry: Registry, options: ConnectOptions) -> EmbeddedClient:
    runtime = _server_runtime()
    if runtime is not None:
        server = await runtime.start_server(
            settings, registry, local_workers=options.workers, threads=options.threads
        )
        return EmbeddedClient(server.engine, server.workers, server)
    engine = await Engine.start(settings, registry)
    workers = LocalWorkers(options.workers, options.threads, settings.job_module_list, settings.worker_env())
    try:
        await workers.start()
    except Exception:
        await engine.stop()
        raise
    return EmbeddedClient(engine, workers)


def _server_runtime() -> ModuleType | None:
    """The REST/WebSocket server's runtime if this build has it; else the console hosts the engine alone."""
    try:
        return importlib.import_module("jobdesk.server.runtime")
    except ModuleNotFoundError as exc:
        if exc.name in ("jobdesk.server.runtime", "jobdesk.server"):
            return None
        raise


def connect_defaults(workers: int = 2) -> EmbeddedConnector:
    """A connector over the environment's settings (used by the screenshot renderer)."""
    return EmbeddedConnector(load_settings(), workers=workers)
