"""The WebSocket event stream of a remote server, delivered in batches like the in-process hub's.

It asks for every job the token may see (`subscribe-all`), reconnects with a
growing pause when the connection drops, and reports a `resync` (events may
have been missed) so that the console re-reads what it shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from jobdesk.client.base import BatchCallback, EventCallback
from jobdesk.client.wire import event_from_wire
from jobdesk.core.events import JobEvent

log = logging.getLogger(__name__)

RECONNECT_MIN_S = 0.5
RECONNECT_MAX_S = 15.0


class EventStream:
    """Attributes:
    connected: whether the socket is open and subscribed now.
    """

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.token = token
        self.connected = False
        self._subscribers: list[EventCallback] = []
        self._resync: list[Callable[[], None]] = []
        self._batches: list[BatchCallback] = []
        self._buffer: list[JobEvent] = []
        self._flush_scheduled = False
        self._task: asyncio.Task[None] | None = None

    def subscribe(self, callback: EventCallback) -> Callable[[], None]:
        self._subscribers.append(callback)
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    def on_resync(self, callback: Callable[[], None]) -> None:
        self._resync.append(callback)

    def on_batch_completed(self, callback: BatchCallback) -> None:
        self._batches.append(callback)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        pause = RECONNECT_MIN_S
        first = True
        while True:
            try:
                async with connect(
                    self.url, additional_headers={"Authorization": f"Bearer {self.token}"}
                ) as conn:
                    await conn.send(json.dumps({"event": "subscribe-all", "data": {}}))
                    self.connected = True
                    pause = RECONNECT_MIN_S
                    if not first:
                        self._signal_resync()  # what happened while away was not heard
                    first = False
                    await self._pump(conn)
            except asyncio.CancelledError:
                raise
            except InvalidStatus as exc:
                log.warning("event stream refused: HTTP %s", exc.response.status_code)
            except (OSError, ConnectionClosed, InvalidHandshake, TimeoutError) as exc:
                log.info("event stream lost (%s); reconnecting in %.1f s", exc, pause)
            finally:
                self.connected = False
            await asyncio.sleep(pause)
            pause = min(RECONNECT_MAX_S, pause * 2)

    async def _pump(self, conn: ClientConnection) -> None:
        loop = asyncio.get_running_loop()
        async for raw in conn:
            try:
                message = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(message, dict):
                continue
            if message.get("event") == "resync":
                self._signal_resync()
                continue
            if message.get("event") == "batch-completed":
                self._signal_batch(message.get("data"))
                continue
            event = event_from_wire(message)
            if event is None:
                continue
            # Messages that arrived together go out as one batch, as the in-process hub's do.
            self._buffer.append(event)
            if not self._flush_scheduled:
                self._flush_scheduled = True
                loop.call_soon(self._flush)

    def _flush(self) -> None:
        batch, self._buffer = self._buffer, []
        self._flush_scheduled = False
        for fn in list(self._subscribers):
            try:
                fn(batch)
            except Exception:
                log.exception("event subscriber failed")

    def _signal_batch(self, summary: object) -> None:
        batch_id = summary.get("id") if isinstance(summary, dict) else None
        if not isinstance(batch_id, str):
            return
        for fn in list(self._batches):
            try:
                fn(batch_id)
            except Exception:
                log.exception("batch-completed handler failed")

    def _signal_resync(self) -> None:
        for fn in list(self._resync):
            try:
                fn()
            except Exception:
                log.exception("resync handler failed")
