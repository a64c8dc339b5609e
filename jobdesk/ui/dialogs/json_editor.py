"""A JSON editor that says, as the operator types, whether its text is a JSON object and where it is not."""

from __future__ import annotations

import json
from typing import Any

from jobdesk.ui.qt import Signal, core, gui, widgets
from jobdesk.ui.text import plain_label

CHECK_DELAY_MS = 150


class JsonEditor(widgets.QWidget):
    """Attributes:
        value: the parsed object, or None while the text is not a JSON object.
        error: why not ("" when it is).

    Signals:
        validity_changed(bool)
    """

    validity_changed = Signal(bool)

    def __init__(self, parent: widgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.value: dict[str, Any] | None = {}
        self.error = ""
        self.editor = widgets.QPlainTextEdit()
        self.editor.setObjectName("code")
        self.editor.setTabChangesFocus(True)
        self.editor.setLineWrapMode(widgets.QPlainTextEdit.LineWrapMode.NoWrap)
        self.status = plain_label("", "validation")
        self.status.setWordWrap(True)
        self._timer = core.QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(CHECK_DELAY_MS)
        self._timer.timeout.connect(self.check)
        self.editor.textChanged.connect(self.on_editor_text_changed)
        layout = widgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.editor, 1)
        layout.addWidget(self.status)

    def set_value(self, value: dict[str, Any]) -> None:
        self.editor.setPlainText(json.dumps(value, indent=2, ensure_ascii=False))
        self.check()

    def text(self) -> str:
        return self.editor.toPlainText()

    def on_editor_text_changed(self) -> None:
        self._timer.start()

    def check(self) -> bool:
        """Parse now; show the result; True if the text is a JSON object."""
        self._timer.stop()
        was_valid = self.value is not None
        text = self.text().strip() or "{}"
        selections: list[widgets.QTextEdit.ExtraSelection] = []
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            self.value = None
            self.error = f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
            selections.append(self._mark_line(exc.lineno))
        else:
            if isinstance(parsed, dict):
                self.value, self.error = parsed, ""
            else:
                self.value = None
                self.error = f"The data must be a JSON object ({{...}}), not {type(parsed).__name__}"
        self.editor.setExtraSelections(selections)
        self.set_message(self.error or "Valid JSON object", ok=not self.error)
        if was_valid != (self.value is not None):
            self.validity_changed.emit(self.value is not None)
        return self.value is not None

    def set_message(self, text: str, *, ok: bool) -> None:
        self.status.setText(text)
        self.status.setProperty("ok", "true" if ok else "false")
        # A dynamic property only restyles after the style is re-applied.
        self.status.style().unpolish(self.status)
        self.status.style().polish(self.status)

    def _mark_line(self, line: int) -> widgets.QTextEdit.ExtraSelection:
        mark = widgets.QTextEdit.ExtraSelection()
        colour = gui.QColor("#cf222e")
        colour.setAlpha(50)
        mark.format.setBackground(colour)
        mark.format.setProperty(gui.QTextFormat.Property.FullWidthSelection, True)
        block = self.editor.document().findBlockByNumber(max(0, line - 1))
        mark.cursor = gui.QTextCursor(block)
        return mark
