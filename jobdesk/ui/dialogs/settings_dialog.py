"""The settings dialog: where jobs live (PostgreSQL, Redis, ports, workers) and how the console behaves."""

from __future__ import annotations

from dataclasses import replace

from jobdesk.client.base import ConnectOptions
from jobdesk.ui import resources
from jobdesk.ui.prefs import NOTIFY_CHOICES, Prefs
from jobdesk.ui.qt import Signal, widgets
from jobdesk.ui.text import plain_label

NOTIFY_LABELS = {
    "both": "When a job completes or fails",
    "failed": "Only when a job fails",
    "completed": "Only when a job completes",
    "none": "Never",
}
DATABASE_SCHEMES = ("postgresql://", "postgres://")
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def check_urls(database_url: str, redis_url: str) -> str:
    """A readable reason if a URL cannot be right, else ""."""
    if not database_url.startswith(DATABASE_SCHEMES):
        return "The PostgreSQL URL must start with postgresql:// (e.g. postgresql://user@host:5432/jobdesk)."
    if not redis_url.startswith(REDIS_SCHEMES):
        return "The Redis URL must start with redis://, rediss:// or unix:// (e.g. redis://127.0.0.1:6379/0)."
    return ""


class SettingsDialog(widgets.QDialog):
    """Signals:
    saved(Prefs): the operator saved; connection fields equal to the environment's are stored as unset.
    """

    saved = Signal(object)

    def __init__(
        self,
        prefs: Prefs,
        defaults: ConnectOptions,
        *,
        tray_available: bool,
        remote: bool = False,
        parent: widgets.QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setWindowIcon(resources.icon("settings"))
        self.setMinimumWidth(560)
        self.prefs = prefs
        self.defaults = defaults
        effective = prefs.apply_to(defaults)

        self.database_url = widgets.QLineEdit(effective.database_url)
        self.database_url.setObjectName("databaseUrl")
        self.redis_url = widgets.QLineEdit(effective.redis_url)
        self.redis_url.setObjectName("redisUrl")
        self.api_port = _port(effective.api_port)
        self.ws_port = _port(effective.ws_port)
        self.workers = widgets.QSpinBox()
        self.workers.setRange(0, 32)
        self.workers.setValue(effective.workers)
        self.workers.setSpecialValueText("none")
        connection = widgets.QGroupBox("Connection (saving reconnects)")
        form = widgets.QFormLayout(connection)
        form.addRow("PostgreSQL URL", self.database_url)
        form.addRow("Redis URL", self.redis_url)
        form.addRow("REST API port", self.api_port)
        form.addRow("WebSocket port", self.ws_port)
        form.addRow("Local worker processes", self.workers)
        if remote:
            # Watching a server elsewhere: its database, Redis and workers are configured there.
            connection.setTitle(f"Connection: watching {defaults.database_url}")
            connection.setEnabled(False)
        self.remote = remote

        self.notify = widgets.QComboBox()
        for key in NOTIFY_CHOICES:
            self.notify.addItem(NOTIFY_LABELS[key], key)
        self.notify.setCurrentIndex(NOTIFY_CHOICES.index(prefs.notify_on))
        self.theme = widgets.QComboBox()
        self.theme.addItem("Light", "light")
        self.theme.addItem("Dark", "dark")
        self.theme.setCurrentIndex(0 if prefs.theme == "light" else 1)
        self.close_to_tray = widgets.QCheckBox("Closing the window keeps jobdesk running in the tray")
        self.close_to_tray.setChecked(prefs.close_to_tray and tray_available)
        self.close_to_tray.setEnabled(tray_available)
        if not tray_available:
            self.close_to_tray.setToolTip("This desktop has no system tray")
        console = widgets.QGroupBox("Console")
        console_form = widgets.QFormLayout(console)
        console_form.addRow("Notify", self.notify)
        console_form.addRow("Theme", self.theme)
        console_form.addRow("", self.close_to_tray)

        self.problem = plain_label("", "validation")
        self.problem.setProperty("ok", "false")
        self.problem.setWordWrap(True)
        buttons = widgets.QDialogButtonBox(
            widgets.QDialogButtonBox.StandardButton.Save | widgets.QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.on_buttons_accepted)
        buttons.rejected.connect(self.reject)
        layout = widgets.QVBoxLayout(self)
        layout.addWidget(connection)
        layout.addWidget(console)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)

    def result_prefs(self) -> Prefs:
        if self.remote:
            return replace(
                self.prefs,
                notify_on=self.notify.currentData(),
                theme=self.theme.currentData(),
                close_to_tray=self.close_to_tray.isChecked(),
            )

        def unless_default(value: object, default: object) -> object:
            return None if value == default else value

        d = self.defaults
        return replace(
            self.prefs,
            database_url=unless_default(self.database_url.text().strip(), d.database_url),  # type: ignore[arg-type]
            redis_url=unless_default(self.redis_url.text().strip(), d.redis_url),  # type: ignore[arg-type]
            api_port=unless_default(self.api_port.value(), d.api_port),  # type: ignore[arg-type]
            ws_port=unless_default(self.ws_port.value(), d.ws_port),  # type: ignore[arg-type]
            workers=unless_default(self.workers.value(), d.workers),  # type: ignore[arg-type]
            notify_on=self.notify.currentData(),
            theme=self.theme.currentData(),
            close_to_tray=self.close_to_tray.isChecked(),
        )

    def on_buttons_accepted(self) -> None:
        problem = (
            "" if self.remote else check_urls(self.database_url.text().strip(), self.redis_url.text().strip())
        )
        if problem:
            self.problem.setText(problem)
            return
        self.saved.emit(self.result_prefs())
        self.accept()


def _port(value: int) -> widgets.QSpinBox:
    box = widgets.QSpinBox()
    box.setRange(0, 65535)
    box.setValue(value)
    box.setSpecialValueText("any free port")
    return box
