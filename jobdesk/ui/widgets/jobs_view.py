"""The jobs tab's table: filters above, the live table, a count below."""

from __future__ import annotations

from dataclasses import replace

from jobdesk.client.base import JobQuery
from jobdesk.ui.actions import JobActions
from jobdesk.ui.models.columns import COLUMNS, INDEX
from jobdesk.ui.models.jobs import JobsTableModel
from jobdesk.ui.models.rows import JobRow
from jobdesk.ui.qt import Signal, core, widgets
from jobdesk.ui.widgets.filter_bar import FilterBar
from jobdesk.ui.widgets.progress_delegate import ProgressDelegate

ROW_HEIGHT = 28


class JobsView(widgets.QWidget):
    """Attributes:
        model: the JobsTableModel behind the table.
        table: the QTableView.
        filters: the FilterBar.

    Signals:
        current_changed(object): the id of the job under the cursor, or None.
        selection_changed(): the selected rows changed.
    """

    current_changed = Signal(object)
    selection_changed = Signal()

    def __init__(self, model: JobsTableModel, parent: widgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.filters = FilterBar()
        self.table = widgets.QTableView()
        self.table.setObjectName("jobsTable")
        self.table.setModel(model)
        self.table.setItemDelegateForColumn(INDEX["progress"], ProgressDelegate(self.table))
        self.table.setSelectionBehavior(widgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(widgets.QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.setContextMenuPolicy(core.Qt.ContextMenuPolicy.ActionsContextMenu)
        rows = self.table.verticalHeader()
        rows.setVisible(False)
        # Fixed heights: the view never measures rows, which keeps scrolling cheap however many are loaded.
        rows.setSectionResizeMode(widgets.QHeaderView.ResizeMode.Fixed)
        rows.setDefaultSectionSize(ROW_HEIGHT)
        header = self.table.horizontalHeader()
        header.setHighlightSections(False)
        header.setStretchLastSection(False)
        for i, column in enumerate(COLUMNS):
            header.resizeSection(i, column.width)
        header.setSectionResizeMode(INDEX["name"], widgets.QHeaderView.ResizeMode.Stretch)
        header.setSortIndicator(INDEX["created"], core.Qt.SortOrder.DescendingOrder)
        self.table.setSortingEnabled(True)

        self.count = widgets.QLabel()
        self.count.setObjectName("jobCount")
        self.loading = widgets.QLabel("Loading…")
        self.loading.setVisible(False)
        footer = widgets.QHBoxLayout()
        footer.addWidget(self.count)
        footer.addStretch(1)
        footer.addWidget(self.loading)

        layout = widgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.filters)
        layout.addWidget(self.table, 1)
        layout.addLayout(footer)

        self.filters.filters_changed.connect(self.on_filters_changed)
        model.total_changed.connect(self.on_model_total_changed)
        model.rowsInserted.connect(self.on_model_rows_changed)
        model.rowsRemoved.connect(self.on_model_rows_changed)
        model.modelReset.connect(self.on_model_rows_changed)
        model.loading_changed.connect(self.loading.setVisible)
        self.table.selectionModel().selectionChanged.connect(self.on_selection_changed)
        self.table.selectionModel().currentRowChanged.connect(self.on_current_row_changed)

    def add_actions(self, actions: JobActions) -> None:
        """Put the job actions in the table's context menu; their shortcuts work while it has focus."""
        for action in actions.selection_actions():
            action.setShortcutContext(core.Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.table.addAction(action)
        self.addAction(actions.find)

    def selected_rows(self) -> list[JobRow]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [r for r in (self.model.row_at(i) for i in rows) if r is not None]

    def select_ids(self, ids: list[str]) -> None:
        """Select the rows of these jobs (those loaded)."""
        selection = core.QItemSelection()
        for job_id in ids:
            row = self.model.row_of(job_id)
            if row is not None:
                selection.select(self.model.index(row, 0), self.model.index(row, len(COLUMNS) - 1))
        flag = core.QItemSelectionModel.SelectionFlag
        self.table.selectionModel().select(selection, flag.ClearAndSelect | flag.Rows)

    def on_filters_changed(self, filters: JobQuery) -> None:
        self.model.set_query(
            replace(filters, order=self.model.query.order, descending=self.model.query.descending)
        )

    def on_model_total_changed(self, _total: int) -> None:
        self.on_model_rows_changed()

    def on_model_rows_changed(self, *_args: object) -> None:
        loaded, total = self.model.rowCount(), self.model.total
        if loaded >= total:
            self.count.setText(f"{total:,} jobs")
        else:
            self.count.setText(f"{loaded:,} of {total:,} jobs loaded (scroll for more)")

    def on_selection_changed(self, *_args: object) -> None:
        self.selection_changed.emit()

    def on_current_row_changed(self, current: core.QModelIndex, _previous: core.QModelIndex) -> None:
        row = self.model.row_at(current.row()) if current.isValid() else None
        self.current_changed.emit(row.id if row else None)
