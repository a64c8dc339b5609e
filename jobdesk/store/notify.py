"""LISTEN for the notifications every state change sends."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TypedDict

import psycopg

from jobdesk.store.db import unavailable

CHANNEL = "jobdesk_events"
log = logging.getLogger(__name__)


class Keepalive(TypedDict):
    """libpq's TCP keepalive parameters, passed on as keyword arguments."""

    keepalives: int
    keepalives_idle: int
    keepalives_interval: int
    keepalives_count: int


# A dead peer must not leave LISTEN waiting forever.
KEEPALIVE: Keepalive = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}

Notification = tuple[str, str]  # (event, subject id)


def parse(payload: str) -> list[Notification]:
    """`event:id` or, for a statement that changed many rows, `event:id,id,...`."""
    event, sep, subjects = payload.partition(":")
    if not sep:
        return []
    return [(event, subject) for subject in subjects.split(",") if subject]


class Listener:
    """Receives notifications on one dedicated connection and hands them on in batches.

    `on_batch` gets every notification that arrived together, so that a burst
    of progress writes costs one read of the rows, not one per event. If the
    connection drops, it reconnects and calls `on_reconnect` so that the
    owner can resync whatever it missed.
    """

    def __init__(
        self,
        url: str,
        on_batch: Callable[[list[Notification]], None],
        on_reconnect: Callable[[], None] | None = None,
    ) -> None:
        self.url = url
        self.on_batch = on_batch
        self.on_reconnect = on_reconnect
        self._task: asyncio.Task[None] | None = None
        self._buffer: list[Notification] = []
        self._flush_scheduled = False
        self.ready = asyncio.Event()

    async def start(self) -> None:
        # The first connection is made here so that a bad URL fails the start-up.
        try:
            conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True, **KEEPALIVE)
        except psycopg.OperationalError as exc:
            raise unavailable(self.url, exc) from None
        self._task = asyncio.create_task(self._run(conn), name="jobdesk-listener")
        await self.ready.wait()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass

    async def _run(self, conn: psycopg.AsyncConnection) -> None:
        first = True
        while True:
            try:
                await conn.execute(f"LISTEN {CHANNEL}")
                self.ready.set()
                if not first and self.on_reconnect:
                    self.on_reconnect()
                first = False
                await self._pump(conn)
            except asyncio.CancelledError:
                await conn.close()
                raise
            except psycopg.Error as exc:
                log.warning("event listener lost its connection (%s); reconnecting", exc)
                await conn.close()
                while True:
                    await asyncio.sleep(1.0)
                    try:
                        conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True, **KEEPALIVE)
                        break
                    except psycopg.OperationalError:
                        continue

    async def _pump(self, conn: psycopg.AsyncConnection) -> None:
        # Notifications that arrive in one packet are yielded without a pause,
        # so a flush scheduled with call_soon sees the whole burst at once.
        loop = asyncio.get_running_loop()
        async for n in conn.notifies():
            items = parse(n.payload)
            if not items:
                continue
            self._buffer.extend(items)
            if not self._flush_scheduled:
                self._flush_scheduled = True
                loop.call_soon(self._flush)

    def _flush(self) -> None:
        batch, self._buffer = self._buffer, []
        self._flush_scheduled = False
        if batch:
            try:
                self.on_batch(batch)
            except Exception:
                log.exception("event batch handler failed")
