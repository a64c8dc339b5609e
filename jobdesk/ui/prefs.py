"""The operator's settings, kept with QSettings.

Connection values are stored only once the operator saves them in the
settings dialog; until then the environment (or `.env`) decides, so a fresh
install follows `JOBDESK_DATABASE_URL` and friends.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from jobdesk.client.base import ConnectOptions
from jobdesk.ui.qt import core

NOTIFY_CHOICES = ("both", "failed", "completed", "none")


@dataclass(frozen=True)
class Prefs:
    """Attributes mirror the settings dialog; None means "not saved: use the environment"."""

    database_url: str | None = None
    redis_url: str | None = None
    api_port: int | None = None
    ws_port: int | None = None
    workers: int | None = None
    notify_on: str = "both"
    theme: str = "light"
    close_to_tray: bool = True

    def notifies(self, status: str) -> bool:
        return self.notify_on == "both" or self.notify_on == status

    def apply_to(self, options: ConnectOptions) -> ConnectOptions:
        saved: dict[str, Any] = {
            "database_url": self.database_url,
            "redis_url": self.redis_url,
            "api_port": self.api_port,
            "ws_port": self.ws_port,
            "workers": self.workers,
        }
        return replace(options, **{k: v for k, v in saved.items() if v is not None})


_CONNECTION_KEYS = {
    "database_url": "connection/databaseUrl",
    "redis_url": "connection/redisUrl",
    "api_port": "connection/apiPort",
    "ws_port": "connection/wsPort",
    "workers": "connection/workers",
}
_INT_FIELDS = ("api_port", "ws_port", "workers")


class PrefsStore:
    """Reads and writes Prefs; tests hand it a QSettings on a file of their own."""

    def __init__(self, settings: core.QSettings | None = None) -> None:
        self.settings = settings or core.QSettings("jobdesk", "jobdesk")

    def load(self) -> Prefs:
        s = self.settings
        values: dict[str, object] = {}
        for field_name, key in _CONNECTION_KEYS.items():
            raw = s.value(key)
            if raw in (None, ""):
                continue
            values[field_name] = _as_int(raw) if field_name in _INT_FIELDS else str(raw)
        notify = str(s.value("ui/notifyOn", "both"))
        theme = str(s.value("ui/theme", "light"))
        return Prefs(
            **values,  # type: ignore[arg-type]
            notify_on=notify if notify in NOTIFY_CHOICES else "both",
            theme=theme if theme in ("light", "dark") else "light",
            close_to_tray=_as_bool(s.value("ui/closeToTray", True)),
        )

    def save(self, prefs: Prefs) -> None:
        s = self.settings
        for field_name, key in _CONNECTION_KEYS.items():
            value = getattr(prefs, field_name)
            if value is None:
                s.remove(key)
            else:
                s.setValue(key, str(value))
        s.setValue("ui/notifyOn", prefs.notify_on)
        s.setValue("ui/theme", prefs.theme)
        s.setValue("ui/closeToTray", prefs.close_to_tray)
        s.sync()

    def window_state(self) -> tuple[core.QByteArray | None, core.QByteArray | None]:
        return self.settings.value("window/geometry"), self.settings.value("window/state")

    def save_window_state(self, geometry: core.QByteArray, state: core.QByteArray) -> None:
        self.settings.setValue("window/geometry", geometry)
        self.settings.setValue("window/state", state)


def _as_int(raw: object) -> int | None:
    try:
        return int(str(raw))
    except ValueError:
        return None


def _as_bool(raw: object) -> bool:
    # QSettings hands back "true"/"false" strings from INI files and real bools elsewhere.
    return raw if isinstance(raw, bool) else str(raw).lower() in ("1", "true", "yes")
