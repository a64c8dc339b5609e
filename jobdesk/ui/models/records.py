"""A small table model over a list of records (dicts): queues, workers, batches, limits, rules.

These lists are short (tens of rows) and are re-read every few seconds, so
the model compares the new list with the old: same keys in the same order
give one `dataChanged` (the selection and scroll position survive a
refresh); anything else resets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jobdesk.ui import text
from jobdesk.ui.qt import NO_PARENT, ModelIndex, core

Role = core.Qt.ItemDataRole
RecordRole = Role.UserRole + 1
# (percentage, text, status) for a field drawn as a progress bar (ProgressDelegate(role=BarRole)).
BarRole = Role.UserRole + 2


@dataclass(frozen=True)
class Field:
    title: str
    text: Callable[[dict[str, Any]], str]
    numeric: bool = False
    foreground: Callable[[dict[str, Any]], Any] | None = None
    decoration: Callable[[dict[str, Any]], Any] | None = None
    bar: Callable[[dict[str, Any]], tuple[float, str, str]] | None = None


class RecordsModel(core.QAbstractTableModel):
    def __init__(self, fields: list[Field], key: str, parent: core.QObject | None = None) -> None:
        super().__init__(parent)
        self.fields = fields
        self.key = key
        self.records: list[dict[str, Any]] = []

    def rowCount(self, parent: ModelIndex = NO_PARENT) -> int:
        return 0 if parent.isValid() else len(self.records)

    def columnCount(self, parent: ModelIndex = NO_PARENT) -> int:
        return 0 if parent.isValid() else len(self.fields)

    def headerData(self, section: int, orientation: core.Qt.Orientation, role: int = Role.DisplayRole) -> Any:
        if orientation == core.Qt.Orientation.Horizontal and role == Role.DisplayRole:
            return self.fields[section].title
        return None

    def data(self, index: ModelIndex, role: int = Role.DisplayRole) -> Any:
        if not index.isValid():
            return None
        record = self.records[index.row()]
        field = self.fields[index.column()]
        if role == Role.DisplayRole:
            return field.text(record)
        if role == Role.ToolTipRole:
            return text.tooltip(field.text(record))
        if role == RecordRole:
            return record
        if role == BarRole:
            return field.bar(record) if field.bar is not None else None
        if role == Role.ForegroundRole and field.foreground is not None:
            return field.foreground(record)
        if role == Role.DecorationRole and field.decoration is not None:
            return field.decoration(record)
        if role == Role.TextAlignmentRole and field.numeric:
            return int(core.Qt.AlignmentFlag.AlignRight | core.Qt.AlignmentFlag.AlignVCenter)
        return None

    def set_records(self, records: list[dict[str, Any]]) -> None:
        same_rows = [r.get(self.key) for r in records] == [r.get(self.key) for r in self.records]
        if same_rows and records:
            self.records = records
            self.dataChanged.emit(self.index(0, 0), self.index(len(records) - 1, len(self.fields) - 1))
            return
        self.beginResetModel()
        self.records = records
        self.endResetModel()

    def record(self, row: int) -> dict[str, Any] | None:
        return self.records[row] if 0 <= row < len(self.records) else None
