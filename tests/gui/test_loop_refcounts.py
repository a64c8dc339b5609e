"""The console's loop must not leak references to None, True or False.

PySide6 6.12.0's QObject.killTimer dropped a reference to None on every call,
and qasync kills a timer for every callback it runs: after some thousands of
events the interpreter aborted ("deallocating None"). pyproject.toml keeps
6.12 out; this catches any such build.
"""

from __future__ import annotations

import asyncio
import sys

from jobdesk.ui.qt import core


def _counts() -> tuple[int, int, int]:
    return sys.getrefcount(None), sys.getrefcount(True), sys.getrefcount(False)


def test_loop_callbacks_keep_the_singletons_alive(gui) -> None:
    async def spin() -> None:
        for _ in range(3000):
            await asyncio.sleep(0)

    gui.run(spin())  # warm up: first-time allocations
    before = _counts()
    gui.run(spin())
    after = _counts()
    # Other code may hold or let go of a few references meanwhile; a leak per
    # callback loses thousands.
    assert all(a > b - 500 for a, b in zip(after, before, strict=True)), (before, after)


def test_timers_keep_the_singletons_alive(qapp) -> None:
    owner = core.QObject()
    before = _counts()
    for _ in range(3000):
        owner.killTimer(owner.startTimer(1000))
    after = _counts()
    assert all(a > b - 500 for a, b in zip(after, before, strict=True)), (before, after)
