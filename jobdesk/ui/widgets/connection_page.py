"""What the window shows while it connects, and when it cannot: the reason, and what to do next."""

from __future__ import annotations

from jobdesk.ui import resources
from jobdesk.ui.qt import Signal, core, widgets
from jobdesk.ui.text import plain_label


class ConnectionPage(widgets.QWidget):
    """Signals:
    settings_requested(), retry_requested()
    """

    settings_requested = Signal()
    retry_requested = Signal()

    def __init__(self, parent: widgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.panel = widgets.QFrame()
        self.panel.setObjectName("problemPanel")
        self.panel.setMaximumWidth(640)
        self.icon = widgets.QLabel()
        self.heading = plain_label("", "detailTitle")
        self.message = plain_label()
        self.message.setObjectName("problemMessage")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(core.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.settings_button = resources.button("settings", "Settings…")
        self.retry_button = resources.button("refresh", "Try again")
        self.settings_button.clicked.connect(self.settings_requested)
        self.retry_button.clicked.connect(self.retry_requested)
        buttons = widgets.QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.settings_button)
        buttons.addWidget(self.retry_button)
        inner = widgets.QVBoxLayout(self.panel)
        inner.setContentsMargins(24, 20, 24, 20)
        top = widgets.QHBoxLayout()
        top.addWidget(self.icon)
        top.addWidget(self.heading, 1)
        inner.addLayout(top)
        inner.addWidget(self.message)
        inner.addLayout(buttons)
        outer = widgets.QVBoxLayout(self)
        outer.addStretch(1)
        row = widgets.QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.panel, 3)
        row.addStretch(1)
        outer.addLayout(row)
        outer.addStretch(2)

    def show_connecting(self, where: str) -> None:
        self.icon.setPixmap(resources.icon("refresh").pixmap(28, 28))
        self.heading.setText("Connecting…")
        self.message.setText(where)
        self.settings_button.setVisible(False)
        self.retry_button.setVisible(False)

    def show_problem(self, message: str) -> None:
        self.icon.setPixmap(resources.status_icon("failed").pixmap(28, 28))
        self.heading.setText("jobdesk could not start")
        self.message.setText(message)
        self.settings_button.setVisible(True)
        self.retry_button.setVisible(True)
