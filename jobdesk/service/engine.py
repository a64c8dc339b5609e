"""The engine as one object: the pieces a server process runs on its loop.

`serve`, `gui` and the tests all start it the same way:

    engine = await Engine.start(settings, registry)
    ...
    await engine.stop()
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from jobdesk.config import Settings
from jobdesk.core.registry import Registry
from jobdesk.dispatch.broker import check_redis
from jobdesk.dispatch.dispatcher import Dispatcher
from jobdesk.dispatch.reconciler import Reconciler
from jobdesk.dispatch.sender import Sender
from jobdesk.service.events import EventHub
from jobdesk.service.flow import FlowService
from jobdesk.service.jobs import JobsService
from jobdesk.service.rollup import RollupCompactor
from jobdesk.store import migrate
from jobdesk.store.db import AsyncPool, open_pool
from jobdesk.store.jobs import JobStore
from jobdesk.store.notify import Notification

log = logging.getLogger(__name__)

# Notifications after which there may be something new to dispatch. Not
# job-update: progress is frequent, and a retry's backoff is served by the tick.
_WAKES = {"job-created", "job-completed", "job-failed", "job-cancelled"}


@dataclass
class Engine:
    settings: Settings
    registry: Registry
    pool: AsyncPool
    store: JobStore
    service: JobsService
    flow: FlowService
    hub: EventHub
    sender: Sender
    dispatcher: Dispatcher | None
    reconciler: Reconciler | None
    # Keeps the job-count rollup's delta table short (a server's job, like the reconciler's).
    compactor: RollupCompactor | None = None

    @classmethod
    async def start(cls, settings: Settings, registry: Registry, *, dispatch: bool = True) -> Engine:
        """Migrate, connect and start; raises DatabaseUnavailable/BrokerUnavailable with a reason."""
        await asyncio.to_thread(migrate.upgrade, settings.database_url)
        await asyncio.to_thread(check_redis, settings.redis)
        pool = await open_pool(settings.database_url, max_size=settings.db_pool_max)
        store = JobStore(pool)
        service = JobsService(store, registry, settings)
        hub = EventHub(store, settings.database_url)
        sender = Sender(settings.redis, settings.namespace)
        dispatcher = reconciler = compactor = None
        if dispatch:
            dispatcher = Dispatcher(store, sender, settings)
            reconciler = Reconciler(store, sender, settings, on_release=dispatcher.wake)
            compactor = RollupCompactor(store)
            hub.on_notifications(lambda batch: _wake_on(dispatcher, batch))
            hub.on_other(lambda event, _: dispatcher.queues_changed() if event == "queue-update" else None)
            hub.on_resync(dispatcher.wake)
        await hub.start()
        if dispatcher and reconciler and compactor:
            dispatcher.start()
            reconciler.start()
            compactor.start()
        flow = FlowService(service, settings)
        return cls(
            settings, registry, pool, store, service, flow, hub, sender, dispatcher, reconciler, compactor
        )

    async def stop(self) -> None:
        for part in (self.compactor, self.reconciler, self.dispatcher):
            if part is not None:
                await part.stop()
        await self.hub.stop()
        await self.sender.close()
        await self.pool.close()


def _wake_on(dispatcher: Dispatcher, batch: list[Notification]) -> None:
    if any(event in _WAKES for event, _ in batch):
        dispatcher.wake()
