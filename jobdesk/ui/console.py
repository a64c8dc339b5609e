"""The console's lifetime: connect, show, reconnect after a settings change, notify, quit.

console = Console(connector, PrefsStore())
await console.start()        # window shown; connected, or showing why not
await console.wait_closed()  # until Quit (tray, window, Ctrl+Q)
await console.shutdown()     # server, workers and connections stopped in order
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import replace
from typing import Any

from jobdesk.client.base import ConnectOptions, Connector, JobsClient
from jobdesk.core.errors import JobdeskError
from jobdesk.core.heap import settle_heap
from jobdesk.ui import aio, resources
from jobdesk.ui.dialogs.settings_dialog import SettingsDialog
from jobdesk.ui.events import EventRouter
from jobdesk.ui.mainwindow import MainWindow
from jobdesk.ui.prefs import Prefs, PrefsStore
from jobdesk.ui.qt import core, gui, widgets
from jobdesk.ui.tray import Notifier, Tray

log = logging.getLogger(__name__)


class Console(core.QObject):
    """Attributes:
    window, tray, notifier, router: the parts it wires together.
    client: the connected client, or None.
    prefs: the operator's settings as last saved.
    overrides: connection options given on the command line; they beat saved settings.
    settings_dialog: the settings dialog while it is open.
    """

    def __init__(
        self,
        connector: Connector,
        store: PrefsStore,
        *,
        overrides: dict[str, Any] | None = None,
        parent: core.QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.connector = connector
        self.store = store
        self.prefs = store.load()
        self.overrides = overrides or {}
        self.client: JobsClient | None = None
        self.settings_dialog: SettingsDialog | None = None
        self._closed: asyncio.Event | None = None
        self._connecting = False
        self._told_about_tray = False
        # A refresh that read the queues before the last pause-all settled would put the tray's
        # check mark back to the old state, and the next click would then repeat the pause.
        self._pause_settled_at = 0.0

        app = widgets.QApplication.instance()
        assert isinstance(app, widgets.QApplication)
        self.app = app
        resources.apply_theme(app, self.prefs.theme)
        self.window = MainWindow()
        self.router = EventRouter(self)
        self.tray = Tray(self)
        self.notifier = Notifier(lambda: self.prefs, self)
        aio.set_error_sink(lambda text: self.window.show_notice(text, "failed"))

        self.router.jobs_changed.connect(self.window.on_jobs_changed)
        self.router.jobs_changed.connect(self.notifier.on_jobs_changed)
        self.router.resync_needed.connect(self.window.on_resync_needed)
        self.router.batch_completed.connect(self.window.on_batch_completed)
        self.notifier.notified.connect(self.on_notifier_notified)
        self.tray.show_requested.connect(self.show_window)
        self.tray.quit_requested.connect(self.quit)
        self.tray.pause_all_requested.connect(self.on_tray_pause_all_requested)
        self.window.settings_requested.connect(self.open_settings)
        self.window.reconnect_requested.connect(self.on_window_reconnect_requested)
        self.window.close_requested.connect(self.on_window_close_requested)
        self.window.queues_read.connect(self.on_window_queues_read)
        quit_action = gui.QAction("Quit", self.window)
        quit_action.setShortcut(gui.QKeySequence(gui.QKeySequence.StandardKey.Quit))
        quit_action.triggered.connect(self.quit)
        self.window.addAction(quit_action)

    # -- lifetime -------------------------------------------------------------------------------------

    def options(self) -> ConnectOptions:
        return replace(self.prefs.apply_to(self.connector.defaults()), **self.overrides)

    async def start(self) -> bool:
        self._closed = asyncio.Event()
        self._restore_geometry()
        self.window.show()
        connected = await self.connect_client()
        settle_heap()
        return connected

    async def connect_client(self) -> bool:
        """Connect with the current options; on failure the window says why (and offers settings)."""
        if self._connecting:
            return False
        self._connecting = True
        try:
            await self._disconnect()
            options = self.options()
            self.window.show_connecting(f"Starting the server on {_describe(options)}…")
            try:
                client = await self.connector.connect(options)
            except Exception as exc:
                if not isinstance(exc, JobdeskError):
                    log.exception("connecting failed")
                self.window.show_problem(aio.describe_error(exc))
                return False
            self.client = client
            self.router.attach(client)
            self.window.set_client(client)
            return True
        finally:
            self._connecting = False

    async def _disconnect(self) -> None:
        client, self.client = self.client, None
        self.router.detach()
        if client is not None:
            self.window.set_client(None)
            try:
                await client.close()
            except Exception:
                log.exception("closing the client failed")

    async def wait_closed(self) -> None:
        assert self._closed is not None, "start() first"
        await self._closed.wait()

    def quit(self) -> None:
        if self._closed is not None:
            self._closed.set()

    async def shutdown(self) -> None:
        self.store.save_window_state(self.window.saveGeometry(), self.window.saveState())
        self.window.hide()
        self.tray.hide()
        await self._disconnect()
        aio.set_error_sink(None)
        await aio.cancel_all()
        self.window.deleteLater()

    def _restore_geometry(self) -> None:
        geometry, state = self.store.window_state()
        if geometry is not None:
            self.window.restoreGeometry(geometry)
        if state is not None:
            self.window.restoreState(state)

    # -- slots ----------------------------------------------------------------------------------------

    def show_window(self) -> None:
        self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()

    def on_window_close_requested(self) -> None:
        if self.tray.available and self.prefs.close_to_tray:
            self.window.hide()
            if not self._told_about_tray:
                self._told_about_tray = True
                self.tray.notify("jobdesk is still running", "Quit from the tray icon's menu.", "info")
            return
        self.quit()

    def on_window_reconnect_requested(self) -> None:
        aio.spawn(self.connect_client(), context="connecting")

    def on_notifier_notified(self, title: str, text: str, kind: str) -> None:
        if self.tray.available and not self.window.isActiveWindow():
            self.tray.notify(title, text, kind)
        else:
            self.window.show_notice(f"{title}: {text}", kind)

    def on_window_queues_read(self, queues: list[dict[str, Any]], began: float) -> None:
        if began < self._pause_settled_at:
            return
        self.tray.set_all_paused(bool(queues) and all(q.get("paused") for q in queues))

    def on_tray_pause_all_requested(self, paused: bool) -> None:
        aio.spawn(self.pause_all(paused), context="pausing all queues")

    async def pause_all(self, paused: bool) -> None:
        if self.client is None:
            self.tray.set_all_paused(not paused)
            return
        self._pause_settled_at = math.inf
        try:
            names = [q["name"] for q in await self.client.queues()]
            for name in names:
                await self.client.set_queue_paused(name, paused)
        finally:
            self._pause_settled_at = time.monotonic()
        self.tray.set_all_paused(paused)
        verb = "Paused" if paused else "Resumed"
        self.window.show_notice(f"{verb} all {len(names)} queues", "info")

    # -- settings --------------------------------------------------------------------------------------

    def open_settings(self) -> SettingsDialog:
        dialog = SettingsDialog(
            self.prefs,
            self.connector.defaults(),
            tray_available=self.tray.available,
            remote=getattr(self.connector, "remote", False),
            parent=self.window,
        )
        dialog.saved.connect(self.on_settings_saved)
        dialog.finished.connect(dialog.deleteLater)
        self.settings_dialog = dialog
        dialog.open()
        return dialog

    def on_settings_saved(self, prefs: Prefs) -> None:
        before = self.options()
        self.prefs = prefs
        self.store.save(prefs)
        # Saved settings now decide: a command-line value for the same field stops overriding.
        self.overrides = {}
        resources.apply_theme(self.app, prefs.theme)
        self.window.apply_theme()
        if self.options() != before or self.client is None:
            aio.spawn(self.connect_client(), context="reconnecting")


def _describe(options: ConnectOptions) -> str:
    database = options.database_url.split("@")[-1]
    redis = options.redis_url.split("@")[-1]
    return f"PostgreSQL {database}, Redis {redis}"
