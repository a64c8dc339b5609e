"""A number with a caption, as the overview's cards show it."""

from __future__ import annotations

from jobdesk.ui.qt import gui, widgets
from jobdesk.ui.text import plain_label


class StatCard(widgets.QFrame):
    def __init__(self, title: str, parent: widgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        self.caption = plain_label(title, "cardTitle")
        self.value = plain_label("\u2013", "cardValue")  # an en dash until the first figures arrive
        self.note = plain_label("", "cardTitle")
        layout = widgets.QVBoxLayout(self)
        layout.setContentsMargins(14, 10, 14, 10)
        layout.setSpacing(2)
        layout.addWidget(self.caption)
        layout.addWidget(self.value)
        layout.addWidget(self.note)
        self.setSizePolicy(widgets.QSizePolicy.Policy.Expanding, widgets.QSizePolicy.Policy.Fixed)

    def set_value(self, text: str, colour: gui.QColor | None = None, note: str = "") -> None:
        self.value.setText(text)
        self.value.setStyleSheet(f"color: {colour.name()};" if colour is not None else "")
        self.note.setText(note)
