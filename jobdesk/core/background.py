"""A loop that runs as one task on the caller's event loop, started and stopped with its owner."""

from __future__ import annotations

import asyncio
import contextlib


class BackgroundLoop:
    """`start()` runs `self._run()` as a task; `stop()` cancels it and waits for it to end.

    The dispatcher, the reconciler and the scheduler are each one of these.
    """

    task_name = "jobdesk-loop"
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.task_name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        raise NotImplementedError
