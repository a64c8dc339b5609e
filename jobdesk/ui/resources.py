"""The one loader of what lives in `resources/`: SVG icons, QSS styles and theme colours.

Icons are drawn in `currentColor`; they are rendered in the theme's icon
colour (status icons in their status colour), so one SVG serves both themes.
A missing file gives an empty icon or style and a log line, never a crash:
the console must open even from a broken install.
"""

from __future__ import annotations

import json
import logging
import os
import weakref
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from jobdesk.ui.qt import core, gui, is_alive, svg, widgets

log = logging.getLogger(__name__)

THEMES = ("light", "dark")
ICON_SIZES = (16, 20, 24, 32, 48, 64)


def root() -> Path:
    """resources/ beside the package (a source checkout or editable install), or JOBDESK_RESOURCES."""
    override = os.environ.get("JOBDESK_RESOURCES")
    return Path(override) if override else Path(__file__).resolve().parents[2] / "resources"


@dataclass(frozen=True)
class Theme:
    name: str
    palette: dict[str, str] = field(default_factory=dict)
    icon: str = "#3d4550"
    muted: str = "#656d76"
    status: dict[str, str] = field(default_factory=dict)
    chart: dict[str, str] = field(default_factory=dict)

    def status_color(self, status: str) -> gui.QColor:
        return gui.QColor(self.status.get(status, self.muted))

    def chart_color(self, key: str) -> gui.QColor:
        return gui.QColor(self.chart.get(key, self.icon))


@cache
def theme(name: str) -> Theme:
    if name not in THEMES:
        name = "light"
    data: dict[str, Any] = {}
    try:
        data = json.loads((root() / "styles" / f"{name}.json").read_text())
    except (OSError, ValueError) as exc:
        log.warning("theme %s not loaded: %s", name, exc)
    return Theme(name, **{k: v for k, v in data.items() if k in Theme.__dataclass_fields__})


_current = "light"


def current() -> Theme:
    return theme(_current)


def stylesheet(name: str) -> str:
    parts = []
    for file in ("base.qss", f"{name}.qss"):
        try:
            parts.append((root() / "styles" / file).read_text())
        except OSError as exc:
            log.warning("style %s not loaded: %s", file, exc)
    return "\n".join(parts)


def apply_theme(app: widgets.QApplication, name: str) -> Theme:
    """Fusion style, the theme's palette and its stylesheet; icons made after this use its colours."""
    global _current
    _current = name if name in THEMES else "light"
    chosen = theme(_current)
    app.setStyle("Fusion")
    palette = gui.QPalette()
    for role_name, colour in chosen.palette.items():
        role = getattr(gui.QPalette.ColorRole, role_name, None)
        if role is not None:
            palette.setColor(role, gui.QColor(colour))
    app.setPalette(palette)
    app.setStyleSheet(stylesheet(_current))
    _rebind_icons()
    return chosen


@cache
def _svg_source(name: str) -> bytes:
    try:
        return (root() / "icons" / f"{name}.svg").read_bytes()
    except OSError as exc:
        log.warning("icon %s not loaded: %s", name, exc)
        return b""


@cache
def _render(name: str, colour: str) -> gui.QIcon:
    source = _svg_source(name)
    out = gui.QIcon()
    if not source:
        return out
    renderer = svg.QSvgRenderer(core.QByteArray(source.replace(b"currentColor", colour.encode())))
    for size in ICON_SIZES:
        pixmap = gui.QPixmap(size, size)
        pixmap.fill(core.Qt.GlobalColor.transparent)
        painter = gui.QPainter(pixmap)
        renderer.render(painter)
        painter.end()
        out.addPixmap(pixmap)
    return out


def icon(name: str, colour: str | None = None) -> gui.QIcon:
    """A themed icon from resources/icons/<name>.svg."""
    return _render(name, colour or current().icon)


def status_icon(status: str) -> gui.QIcon:
    return _render(f"status-{status}", current().status.get(status, current().muted))


def app_icon() -> gui.QIcon:
    return _render("jobdesk", "#2563eb")


# Widgets and actions whose icon follows the theme: (weak reference, icon name).
_bound: list[tuple[weakref.ref[Any], str]] = []


def set_icon(target: Any, name: str) -> None:
    """`target.setIcon(icon(name))`, again whenever the theme changes (for as long as target lives)."""
    target.setIcon(icon(name))
    _bound.append((weakref.ref(target), name))


def _rebind_icons() -> None:
    alive = []
    for ref, name in _bound:
        target = ref()
        # The Python wrapper can outlive its C++ object (deleted with its parent).
        if target is not None and is_alive(target):
            target.setIcon(icon(name))
            alive.append((ref, name))
    _bound[:] = alive


def button(name: str, text: str) -> widgets.QPushButton:
    """A push button with a themed icon."""
    out = widgets.QPushButton(text)
    set_icon(out, name)
    return out
