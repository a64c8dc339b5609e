"""The jobs tab's filter row: type, status, queue, a search on name or id, and the batch shown."""

from __future__ import annotations

from dataclasses import replace

from jobdesk.client.base import JobQuery
from jobdesk.core.jobs import JobStatus
from jobdesk.ui import resources
from jobdesk.ui.qt import Signal, core, widgets

ANY = "All"
# Typing settles before a query goes out: one request per pause, not per key.
SEARCH_DELAY_MS = 250


class FilterBar(widgets.QWidget):
    """Attributes:
        batch_label, batch_clear: the batch filter's chip ("Batch 1a2b3c4d ✕"), shown while one is set.

    Signals:
        filters_changed(JobQuery): the filters changed (the order fields are left as they were).
    """

    filters_changed = Signal(object)

    def __init__(self, parent: widgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.query = JobQuery()
        self.type_box = self._combo("Type")
        self.status_box = self._combo("Status")
        self.status_box.addItems([s.value for s in JobStatus])
        self.queue_box = self._combo("Queue")
        self.search = widgets.QLineEdit()
        self.search.setObjectName("search")
        self.search.setPlaceholderText("Search name or id…")
        self.search.setClearButtonEnabled(True)
        leading = widgets.QLineEdit.ActionPosition.LeadingPosition
        glass = self.search.addAction(resources.icon("search"), leading)
        resources.set_icon(glass, "search")
        self._debounce = core.QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(SEARCH_DELAY_MS)
        self._debounce.timeout.connect(self.on_debounce_timeout)
        self.search.textChanged.connect(self.on_search_text_changed)
        self.search.returnPressed.connect(self.on_debounce_timeout)

        self.batch_label = widgets.QLabel()
        self.batch_label.setObjectName("batchFilter")
        self.batch_label.setTextFormat(core.Qt.TextFormat.PlainText)
        self.batch_clear = widgets.QToolButton()
        self.batch_clear.setObjectName("batchFilterClear")
        self.batch_clear.setToolTip("Show every batch's jobs again")
        self.batch_clear.setAutoRaise(True)
        resources.set_icon(self.batch_clear, "close")
        self.batch_clear.clicked.connect(self.on_batch_clear_clicked)
        self.batch_label.setVisible(False)
        self.batch_clear.setVisible(False)

        layout = widgets.QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.batch_label)
        layout.addWidget(self.batch_clear)
        for label, box in (("Type", self.type_box), ("Status", self.status_box), ("Queue", self.queue_box)):
            layout.addWidget(widgets.QLabel(label))
            layout.addWidget(box)
        layout.addSpacing(8)
        layout.addWidget(self.search, 1)

    def _combo(self, name: str) -> widgets.QComboBox:
        box = widgets.QComboBox()
        box.setObjectName(f"filter{name}")
        box.addItem(ANY)
        box.setMinimumContentsLength(10)
        box.setSizeAdjustPolicy(widgets.QComboBox.SizeAdjustPolicy.AdjustToContents)
        box.currentTextChanged.connect(self.on_combo_current_text_changed)
        return box

    def set_choices(self, types: list[str], queues: list[str]) -> None:
        """Offer the registered types and known queues, keeping the current choice."""
        for box, values in ((self.type_box, types), (self.queue_box, queues)):
            current = box.currentText()
            box.blockSignals(True)
            box.clear()
            box.addItem(ANY)
            box.addItems(sorted(set(values) | ({current} - {ANY})))
            box.setCurrentText(current)
            box.blockSignals(False)

    def set_batch(self, batch_id: str | None) -> None:
        """Show only the jobs of one batch (None: of any), keeping the other filters."""
        self.batch_label.setText(f"Batch {batch_id[:8]}" if batch_id else "")
        self.batch_label.setToolTip(f"Only the jobs of batch {batch_id}" if batch_id else "")
        self.batch_label.setVisible(batch_id is not None)
        self.batch_clear.setVisible(batch_id is not None)
        self.query = replace(self.query, batch_id=batch_id)
        self.filters_changed.emit(self.query)

    def on_batch_clear_clicked(self) -> None:
        self.set_batch(None)

    def focus_search(self) -> None:
        self.search.setFocus(core.Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def on_combo_current_text_changed(self, _text: str) -> None:
        self._emit()

    def on_search_text_changed(self, _text: str) -> None:
        self._debounce.start()

    def on_debounce_timeout(self) -> None:
        self._debounce.stop()
        self._emit()

    def _emit(self) -> None:
        def chosen(box: widgets.QComboBox) -> str | None:
            text = box.currentText()
            return None if text in (ANY, "") else text

        query = replace(
            self.query,
            type=chosen(self.type_box),
            status=chosen(self.status_box),
            queue=chosen(self.queue_box),
            search=self.search.text().strip() or None,
        )
        if query != self.query:
            self.query = query
            self.filters_changed.emit(query)
