"""Notifications inside the window: job completions and failures where there is no tray, action results.

A few notices at once, newest on top; each goes away by itself.
"""

from __future__ import annotations

from jobdesk.ui import resources
from jobdesk.ui.qt import core, widgets
from jobdesk.ui.text import plain_label

MAX_SHOWN = 3
LINGER_MS = {"failed": 15_000, "completed": 6_000, "info": 5_000}
ICONS = {"failed": "status-failed", "completed": "status-completed", "info": "bell"}


class Notice(widgets.QFrame):
    def __init__(self, text: str, kind: str, parent: widgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("noticeBar")
        self.setProperty("kind", kind)
        self.text = text
        self.kind = kind
        icon = widgets.QLabel()
        name = ICONS.get(kind, "bell")
        themed = resources.status_icon(kind) if name.startswith("status-") else resources.icon(name)
        icon.setPixmap(themed.pixmap(18, 18))
        label = plain_label(text)
        label.setWordWrap(True)
        label.setTextInteractionFlags(core.Qt.TextInteractionFlag.TextSelectableByMouse)
        close = widgets.QToolButton()
        close.setIcon(resources.icon("close"))
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.deleteLater)
        layout = widgets.QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(icon)
        layout.addWidget(label, 1)
        layout.addWidget(close)
        core.QTimer.singleShot(LINGER_MS.get(kind, 6000), self, self.deleteLater)


class NoticeBar(widgets.QWidget):
    """Attributes:
    history: every (kind, text) shown, oldest first, up to the last 200.
    """

    def __init__(self, parent: widgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.history: list[tuple[str, str]] = []
        self._layout = widgets.QVBoxLayout(self)
        self._layout.setContentsMargins(8, 4, 8, 0)
        self._layout.setSpacing(4)

    def show_notice(self, text: str, kind: str = "info") -> None:
        self.history.append((kind, text))
        del self.history[:-200]
        self._layout.insertWidget(0, Notice(text, kind))
        notices = self.notices()
        for stale in notices[MAX_SHOWN:]:
            stale.setParent(None)
            stale.deleteLater()

    def notices(self) -> list[Notice]:
        items = (self._layout.itemAt(i) for i in range(self._layout.count()))
        return [w for item in items if item is not None and isinstance(w := item.widget(), Notice)]
