"""GUI tests: the real console on a qasync loop, against the embedded engine and real workers.

One qasync loop and one embedded client (engine + a local worker process)
serve the whole package: starting workers costs seconds, and each test uses
jobs of its own (unique names) so they do not see each other. Both are torn
down when the package ends, before tests elsewhere truncate the tables.

The loop is made "already running" (as for an application whose Qt loop
someone else runs): Qt processes events between and around tests (pytest-qt
does), and every asyncio callback a socket or timer fires then must find its
loop running. Tests are plain functions that drive coroutines with
`gui.run(...)`, which spins a nested Qt event loop until the coroutine ends;
pytest-asyncio's own loop is never involved, and the package's teardown
clears the running loop before other packages' async tests run.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from jobdesk.client.base import ConnectOptions, JobsClient
from jobdesk.config import Settings
from jobdesk.embedded import EmbeddedClient, EmbeddedConnector
from jobdesk.ui import aio
from jobdesk.ui.console import Console
from jobdesk.ui.launch import application
from jobdesk.ui.prefs import PrefsStore
from jobdesk.ui.qt import QEventLoop, core, widgets

T = TypeVar("T")


class Harness:
    """The loop, the shared client, and helpers to run and wait on it."""

    def __init__(self, loop: QEventLoop, client: EmbeddedClient, settings: Settings) -> None:
        self.loop = loop
        self.client = client
        self.settings = settings

    def run(self, coro: Awaitable[T], timeout: float = 60) -> T:
        task = self.loop.create_task(_with_timeout(coro, timeout))
        if not task.done():
            spin = core.QEventLoop()
            task.add_done_callback(lambda _: spin.quit())
            spin.exec()
        return task.result()

    async def until(
        self,
        predicate: Callable[[], Any],
        timeout: float = 20,
        what: str = "condition",
        interval: float = 0.02,
    ) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}")
            await asyncio.sleep(interval)

    async def pause_queue(self, name: str, paused: bool = True) -> None:
        """Pause or resume, and wait until the dispatcher acts on it (it hears of pauses by notification)."""
        await self.client.set_queue_paused(name, paused)
        dispatcher = self.client.engine.dispatcher
        assert dispatcher is not None
        await self.until(
            lambda: dispatcher._paused is not None and (name in dispatcher._paused) == paused,
            what=f"the dispatcher to see {name} {'paused' if paused else 'resumed'}",
        )

    def unique(self, prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:8]}"


class BorrowedClient:
    """The shared client as a console sees it: everything forwarded, except that closing does nothing."""

    def __init__(self, client: JobsClient) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    async def close(self) -> None:
        return None


class SharedConnector:
    def __init__(self, client: JobsClient) -> None:
        self.client = client

    def defaults(self) -> ConnectOptions:
        return ConnectOptions("postgresql://shared", "redis://shared", 0, 0, 1, 4)

    async def connect(self, options: ConnectOptions) -> Any:
        return BorrowedClient(self.client)


async def _with_timeout(coro: Awaitable[T], timeout: float) -> T:
    return await asyncio.wait_for(coro, timeout)


@pytest.fixture(scope="package")
def gui(settings: Settings) -> Iterator[Harness]:
    app = application([])
    loop = QEventLoop(app, already_running=True)
    asyncio.set_event_loop(loop)
    connector = EmbeddedConnector(settings, workers=1, threads=4)
    options = ConnectOptions(settings.database_url, settings.redis, 0, 0, workers=1, threads=4)
    harness = Harness(loop, None, settings)  # type: ignore[arg-type]
    try:
        harness.client = harness.run(connector.connect(options))
        harness.run(_workers_online(harness.client), timeout=60)
        yield harness
    finally:
        if harness.client is not None:
            harness.run(harness.client.close())
        harness.run(aio.cancel_all())
        loop.stop()
        loop.close()
        asyncio.events._set_running_loop(None)
        asyncio.set_event_loop(None)


async def _workers_online(client: JobsClient) -> None:
    deadline = time.monotonic() + 60
    while not await client.workers():
        if time.monotonic() > deadline:
            raise AssertionError("the local workers never registered")
        await asyncio.sleep(0.2)


@pytest.fixture
def prefs_store(tmp_path: Path) -> PrefsStore:
    """Settings in a file of the test's own, never the operator's."""
    return PrefsStore(core.QSettings(str(tmp_path / "jobdesk.ini"), core.QSettings.Format.IniFormat))


@pytest.fixture
def console(gui: Harness, prefs_store: PrefsStore) -> Iterator[Console]:
    """A started console window over the shared client."""
    c = Console(SharedConnector(gui.client), prefs_store)  # type: ignore[arg-type]
    assert gui.run(c.start())
    try:
        yield c
    finally:
        gui.run(c.shutdown())
        widgets.QApplication.processEvents()
