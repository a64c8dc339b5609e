"""Running coroutines from Qt slots, on the qasync loop, without losing their errors.

A slot cannot await; it calls `spawn(coro)`. The task is kept alive here
(asyncio holds only weak references to tasks), and a failure goes to the
error sink the main window installs (its notice bar) instead of vanishing
into "Task exception was never retrieved".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from jobdesk.core.errors import JobdeskError

log = logging.getLogger(__name__)
T = TypeVar("T")

_tasks: set[asyncio.Task[Any]] = set()
_sink: Callable[[str], None] | None = None


def set_error_sink(sink: Callable[[str], None] | None) -> None:
    global _sink
    _sink = sink


def describe_error(exc: BaseException) -> str:
    """What an operator reads: a JobdeskError's own message, else the type and message, never a traceback."""
    if isinstance(exc, JobdeskError):
        return exc.message
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def report(exc: BaseException, context: str = "") -> None:
    message = describe_error(exc)
    if not isinstance(exc, JobdeskError):
        log.error("%s failed", context or "a console task", exc_info=exc)
    if _sink is not None:
        _sink(f"{context}: {message}" if context else message)


def spawn(coro: Coroutine[Any, Any, T], *, context: str = "", quiet: bool = False) -> asyncio.Task[T]:
    """Schedule `coro` on the running loop; report its failure unless `quiet`."""
    task = asyncio.ensure_future(coro)
    _tasks.add(task)

    def done(t: asyncio.Task[T]) -> None:
        _tasks.discard(t)
        if t.cancelled():
            return
        exc = t.exception()
        if exc is not None and not quiet:
            report(exc, context)
        elif exc is not None:
            log.debug("%s failed quietly: %s", context, exc)

    task.add_done_callback(done)
    return task


async def cancel_all() -> None:
    """Cancel what is still running (at quit), and wait for it to unwind."""
    pending = [t for t in _tasks if not t.done()]
    for t in pending:
        t.cancel()
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
