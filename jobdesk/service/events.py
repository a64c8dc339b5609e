"""The event hub: PostgreSQL notifications in, job events out.

Every state change notifies in its own transaction (see store/sql/queries.sql).
The hub reads the rows a burst of notifications names in one query, then
hands each subscriber the events in the order they were committed. A
subscriber is a callback; the WebSocket gateway and the console each keep
their own bounded buffers, so a slow one never holds up the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from jobdesk.core.events import EventName, JobEvent
from jobdesk.store.jobs import JobStore
from jobdesk.store.notify import Listener, Notification

log = logging.getLogger(__name__)

Subscriber = Callable[[list[JobEvent]], None]
# Notifications that are not job events: "queue-update:<name>".
OtherSubscriber = Callable[[str, str], None]

_JOB_EVENTS = {e.value: e for e in EventName}


class EventHub:
    def __init__(self, store: JobStore, url: str) -> None:
        self.store = store
        self.listener = Listener(url, self._on_batch, self._on_reconnect)
        self._subscribers: list[Subscriber] = []
        self._raw: list[Callable[[list[Notification]], None]] = []
        self._others: list[OtherSubscriber] = []
        self._resync: list[Callable[[], None]] = []
        self._pending: asyncio.Queue[list[Notification]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.received = 0

    async def start(self) -> None:
        self._task = asyncio.create_task(self._deliver(), name="jobdesk-event-hub")
        await self.listener.start()

    async def stop(self) -> None:
        await self.listener.stop()
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Receive job events in batches; returns the unsubscribe function."""
        self._subscribers.append(fn)
        return lambda: self._subscribers.remove(fn) if fn in self._subscribers else None

    def on_notifications(self, fn: Callable[[list[Notification]], None]) -> None:
        """Raw notifications as they arrive, before rows are read (the dispatcher's wake-up)."""
        self._raw.append(fn)

    def on_other(self, fn: OtherSubscriber) -> None:
        self._others.append(fn)

    def on_resync(self, fn: Callable[[], None]) -> None:
        """Called after the listener reconnected: events may have been missed."""
        self._resync.append(fn)

    def _on_batch(self, batch: list[Notification]) -> None:
        self.received += len(batch)
        for fn in self._raw:
            fn(batch)
        jobs = [n for n in batch if n[0] in _JOB_EVENTS]
        for event, subject in batch:
            if event not in _JOB_EVENTS:
                for other in self._others:
                    other(event, subject)
        if jobs and self._subscribers:
            self._pending.put_nowait(jobs)

    def _on_reconnect(self) -> None:
        for fn in self._resync:
            fn()

    async def _deliver(self) -> None:
        while True:
            batch = await self._pending.get()
            # Merge whatever else queued while the last read ran: one query for all.
            while not self._pending.empty():
                batch.extend(self._pending.get_nowait())
            try:
                ids = list(dict.fromkeys(subject for _, subject in batch))
                rows = {j.id: j for j in await self.store.get_many(ids)}
            except Exception as exc:
                log.warning("could not read %d jobs for their events: %s", len(batch), exc)
                continue
            events = [
                JobEvent(_JOB_EVENTS[name], rows[subject]) for name, subject in batch if subject in rows
            ]
            for fn in list(self._subscribers):
                try:
                    fn(events)
                except Exception:
                    log.exception("event subscriber failed")
