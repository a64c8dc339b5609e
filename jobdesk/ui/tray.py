"""The tray icon and its menu, and the notifier that decides which job endings deserve a notification.

Where the desktop has no tray (offscreen, Xvfb, some Wayland shells) there is
no icon; notifications go to the window's notice bar instead and everything
else works the same.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from jobdesk.core.events import EventName, JobEvent
from jobdesk.ui import resources
from jobdesk.ui.prefs import Prefs
from jobdesk.ui.qt import Signal, core, widgets

# More endings than this in one batch make one summary notification, not a flood.
SUMMARY_OVER = 3
_KINDS = {EventName.COMPLETED: "completed", EventName.FAILED: "failed"}


class Notifier(core.QObject):
    """Signals:
    notified(str, str, str): title, text and kind ("completed" or "failed") of a notification.
    """

    notified = Signal(str, str, str)

    def __init__(self, prefs: Callable[[], Prefs], parent: core.QObject | None = None) -> None:
        super().__init__(parent)
        self.prefs = prefs
        # The hub may re-deliver an event after a reconnect; one notification per ending.
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()

    def on_jobs_changed(self, events: list[JobEvent]) -> None:
        prefs = self.prefs()
        endings: list[tuple[str, JobEvent]] = []
        for event in events:
            kind = _KINDS.get(event.name)
            if kind is None or not prefs.notifies(kind):
                continue
            key = (event.job.id, event.job.updated_at.isoformat())
            if key in self._seen:
                continue
            self._seen[key] = None
            if len(self._seen) > 2000:
                self._seen.popitem(last=False)
            endings.append((kind, event))
        if not endings:
            return
        if len(endings) > SUMMARY_OVER:
            done = sum(1 for k, _ in endings if k == "completed")
            failed = len(endings) - done
            parts = [f"{done} completed"] if done else []
            parts += [f"{failed} failed"] if failed else []
            self.notified.emit("Jobs finished", ", ".join(parts), "failed" if failed else "completed")
            return
        for kind, event in endings:
            job = event.job
            if kind == "failed":
                reason = (job.error or {}).get("message") or "no message"
                self.notified.emit("Job failed", f"{job.name} ({job.type}): {reason}", kind)
            else:
                self.notified.emit("Job completed", f"{job.name} ({job.type})", kind)


class Tray(core.QObject):
    """Attributes:
        available: whether the desktop shows tray icons; without one, `icon` is None.

    Signals:
        show_requested(), quit_requested(), pause_all_requested(bool)
    """

    show_requested = Signal()
    quit_requested = Signal()
    pause_all_requested = Signal(bool)

    def __init__(self, parent: core.QObject | None = None) -> None:
        super().__init__(parent)
        self.available = widgets.QSystemTrayIcon.isSystemTrayAvailable()
        self.menu = widgets.QMenu()
        self.show_action = self.menu.addAction(resources.icon("window"), "Show window")
        self.pause_action = self.menu.addAction(resources.icon("pause"), "Pause all queues")
        self.pause_action.setCheckable(True)
        self.menu.addSeparator()
        self.quit_action = self.menu.addAction(resources.icon("quit"), "Quit jobdesk")
        self.show_action.triggered.connect(self.show_requested)
        self.pause_action.triggered.connect(self.on_pause_action_triggered)
        self.quit_action.triggered.connect(self.quit_requested)
        self.icon: widgets.QSystemTrayIcon | None = None
        if self.available:
            self.icon = widgets.QSystemTrayIcon(resources.app_icon(), self)
            self.icon.setToolTip("jobdesk")
            self.icon.setContextMenu(self.menu)
            self.icon.activated.connect(self.on_icon_activated)
            self.icon.show()

    def set_all_paused(self, paused: bool) -> None:
        self.pause_action.setChecked(paused)

    def notify(self, title: str, text: str, kind: str) -> None:
        if self.icon is None:
            return
        level = (
            widgets.QSystemTrayIcon.MessageIcon.Warning
            if kind == "failed"
            else widgets.QSystemTrayIcon.MessageIcon.Information
        )
        self.icon.showMessage(title, text, level, 8000)

    def on_pause_action_triggered(self, checked: bool) -> None:
        self.pause_all_requested.emit(checked)

    def on_icon_activated(self, reason: widgets.QSystemTrayIcon.ActivationReason) -> None:
        if reason == widgets.QSystemTrayIcon.ActivationReason.Trigger:
            self.show_requested.emit()

    def hide(self) -> None:
        if self.icon is not None:
            self.icon.hide()
