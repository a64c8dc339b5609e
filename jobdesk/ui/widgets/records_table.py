"""The table view the queue and worker lists share."""

from __future__ import annotations

from typing import Any

from jobdesk.ui.models.records import RecordsModel
from jobdesk.ui.qt import core, widgets

ROW_HEIGHT = 26


def records_table(model: RecordsModel, *, selectable: bool = True, name: str = "") -> widgets.QTableView:
    view = widgets.QTableView()
    if name:
        view.setObjectName(name)
    view.setModel(model)
    view.setShowGrid(False)
    view.setAlternatingRowColors(True)
    view.verticalHeader().setVisible(False)
    view.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
    if selectable:
        view.setSelectionBehavior(widgets.QAbstractItemView.SelectionBehavior.SelectRows)
    else:
        view.setSelectionMode(widgets.QAbstractItemView.SelectionMode.NoSelection)
        view.setFocusPolicy(core.Qt.FocusPolicy.NoFocus)
    header = view.horizontalHeader()
    # The first column (a queue's or a host's name) fits its text; the figures share the rest.
    header.setSectionResizeMode(widgets.QHeaderView.ResizeMode.Stretch)
    header.setSectionResizeMode(0, widgets.QHeaderView.ResizeMode.ResizeToContents)
    return view


def selected_records(view: widgets.QTableView, model: RecordsModel) -> list[dict[str, Any]]:
    """The records of the selected rows, top to bottom."""
    rows = {i.row() for i in view.selectionModel().selectedRows()}
    return [r for r in (model.record(i) for i in sorted(rows)) if r is not None]


def fit_columns(view: widgets.QTableView, *, stretch: int) -> None:
    """Every column as wide as its text, but `stretch`, which takes the rest (short lists only)."""
    header = view.horizontalHeader()
    header.setSectionResizeMode(widgets.QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(stretch, widgets.QHeaderView.ResizeMode.Stretch)
