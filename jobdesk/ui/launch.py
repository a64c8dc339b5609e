"""Starting the console: the QApplication, the qasync loop, the Console, and a clean exit.

Qt and asyncio share one thread and one loop (qasync): the embedded server's
coroutines and the window's events interleave, and nothing blocks either.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Any

from jobdesk.client.base import Connector
from jobdesk.ui import resources
from jobdesk.ui.console import Console
from jobdesk.ui.prefs import PrefsStore
from jobdesk.ui.qt import QEventLoop, core, widgets

# Python runs signal handlers only between bytecodes; while Qt's C++ loop waits,
# a periodic no-op gives Ctrl-C and SIGTERM a chance to be seen.
SIGNAL_POLL_MS = 250


def application(argv: list[str] | None = None) -> widgets.QApplication:
    existing = widgets.QApplication.instance()
    if isinstance(existing, widgets.QApplication):
        return existing
    app = widgets.QApplication(argv if argv is not None else sys.argv)
    app.setApplicationName("jobdesk")
    app.setOrganizationName("jobdesk")
    app.setApplicationDisplayName("jobdesk")
    app.setDesktopFileName("jobdesk")
    app.setWindowIcon(resources.app_icon())
    # The tray keeps the console alive with its window closed; quitting is explicit.
    app.setQuitOnLastWindowClosed(False)
    return app


def run(
    connector: Connector,
    *,
    overrides: dict[str, Any] | None = None,
    store: PrefsStore | None = None,
    argv: list[str] | None = None,
) -> int:
    app = application(argv)
    loop = QEventLoop(app)
    asyncio.set_event_loop(loop)
    console = Console(connector, store or PrefsStore(), overrides=overrides)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: console.quit())
    poll = core.QTimer()
    poll.start(SIGNAL_POLL_MS)
    poll.timeout.connect(lambda: None)

    async def main() -> None:
        await console.start()
        await console.wait_closed()
        await console.shutdown()

    with loop:
        loop.run_until_complete(main())
    return 0
