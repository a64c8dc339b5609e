"""The live job table: pages from the server, events coalesced per frame.

How it stays responsive with 100,000+ jobs:

- Rows arrive a page at a time (`canFetchMore`/`fetchMore`, the server's
  limit/offset, in its order), so the model holds only what the operator has
  scrolled to, at most MAX_LOADED rows.
- Events never touch the view directly. They land in a dict keyed by job id;
  a 16 ms timer applies them: one `dataChanged` per run of adjacent changed
  rows, one `beginInsertRows` for the new jobs of that frame. A job that
  changes 50 times in a frame repaints once; nothing reloads the table
  because of an event.
- Sorting and filtering are the server's: a new query reloads the first page.
"""

from __future__ import annotations

import bisect
import logging
from dataclasses import replace
from datetime import UTC
from typing import Any

from jobdesk.client.base import JobQuery, JobsClient
from jobdesk.core.events import JobEvent
from jobdesk.ui import aio, resources, text
from jobdesk.ui.models.columns import COLUMNS, INDEX
from jobdesk.ui.models.rows import JobRow, matches, sort_key
from jobdesk.ui.qt import NO_PARENT, ModelIndex, Signal, core, gui

log = logging.getLogger(__name__)

PAGE = 200
MAX_LOADED = 5_000
# More new jobs than this in one frame: reload the first page instead of inserting them one by one.
MAX_INSERT_PER_FRAME = 500
FRAME_MS = 16

Qt = core.Qt
Role = Qt.ItemDataRole
ProgressRole = Role.UserRole + 1
JobIdRole = Role.UserRole + 2
StatusRole = Role.UserRole + 3


class JobsTableModel(core.QAbstractTableModel):
    """Jobs matching a query, newest first unless sorted otherwise.

    Attributes:
        total: how many jobs the server has for the query (rowCount() is what is loaded).
        flushes: frames in which events were applied (for tests and the benchmark).

    Signals:
        loading_changed(bool): a page request started or ended.
        total_changed(int): the server's count for the query changed.
        failed(str): a page could not be loaded.
    """

    loading_changed = Signal(bool)
    total_changed = Signal(int)
    failed = Signal(str)

    def __init__(self, client: JobsClient | None = None, parent: core.QObject | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.query = JobQuery()
        self.total = 0
        self.flushes = 0
        self._rows: list[JobRow] = []
        self._pos: dict[str, int] | None = {}
        self._generation = 0
        self._loading = False
        self._fetching = False
        self._pending: dict[str, JobRow] = {}
        # Events seen while a page was in flight: applied to the page if they are newer than its rows.
        self._recent: dict[str, JobRow] = {}
        self._frame = core.QTimer(self)
        self._frame.setSingleShot(True)
        self._frame.setInterval(FRAME_MS)
        self._frame.timeout.connect(self.on_frame_timeout)
        # Running jobs' durations tick once a second; one signal for the column, repainting what is visible.
        self._clock = core.QTimer(self)
        self._clock.setInterval(1000)
        self._clock.timeout.connect(self.on_clock_timeout)
        self._clock.start()

    # -- Qt model interface --------------------------------------------------------------

    def rowCount(self, parent: ModelIndex = NO_PARENT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: ModelIndex = NO_PARENT) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Role.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Role.DisplayRole:
            return COLUMNS[section].title
        return None

    def data(self, index: ModelIndex, role: int = Role.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        row = self._rows[index.row()]
        column = COLUMNS[index.column()]
        if role == Role.DisplayRole:
            return column.text(row)
        if role == JobIdRole:
            return row.id
        if role == StatusRole:
            return row.status
        if role == ProgressRole:
            return (row.percentage, column.text(row), row.status)
        if column.key == "status":
            if role == Role.ForegroundRole:
                return resources.current().status_color(row.status)
            if role == Role.DecorationRole:
                return resources.status_icon(row.status)
        if role == Role.ToolTipRole:
            return text.tooltip(_tooltip(row))
        if role == Role.TextAlignmentRole and column.numeric:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Role.FontRole and column.key == "id":
            return gui.QFontDatabase.systemFont(gui.QFontDatabase.SystemFont.FixedFont)
        return None

    def canFetchMore(self, parent: ModelIndex = NO_PARENT) -> bool:
        if parent.isValid() or self.client is None or self._fetching or self._loading:
            return False
        return len(self._rows) < min(self.total, MAX_LOADED)

    def fetchMore(self, parent: ModelIndex = NO_PARENT) -> None:
        if not self.canFetchMore(parent):
            return
        self._fetching = True
        aio.spawn(self._fetch_more(self._generation), context="loading jobs")

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        key = COLUMNS[column].order
        if key is None:
            return
        descending = order == Qt.SortOrder.DescendingOrder
        if key != self.query.order or descending != self.query.descending:
            self.set_query(replace(self.query, order=key, descending=descending))

    # -- queries and pages --------------------------------------------------------------------

    def set_client(self, client: JobsClient | None) -> None:
        self.client = client
        self.reload()

    def set_query(self, query: JobQuery) -> None:
        self.query = query
        self.reload()

    def reload(self) -> None:
        """Read the first page again (a new query, a new client, or the operator's refresh)."""
        self._generation += 1
        if self.client is None:
            self._reset([], 0)
            return
        self._set_loading(True)
        aio.spawn(self._load_first(self._generation), context="loading jobs")

    async def load(self) -> None:
        """Reload and wait for the first page (for callers that need the rows, such as tests)."""
        self._generation += 1
        self._set_loading(True)
        await self._load_first(self._generation)

    async def _load_first(self, generation: int) -> None:
        assert self.client is not None
        self._recent.clear()
        try:
            page = await self.client.list_jobs(self.query, limit=PAGE, offset=0)
        except Exception as exc:
            if generation == self._generation:
                self._set_loading(False)
                self.failed.emit(aio.describe_error(exc))
            raise
        if generation != self._generation:
            return  # a newer query owns the table now
        rows = [self._freshest(JobRow.from_job(j)) for j in page.items]
        self._reset(rows, page.total)
        self._set_loading(False)

    async def _fetch_more(self, generation: int) -> None:
        assert self.client is not None
        try:
            page = await self.client.list_jobs(self.query, limit=PAGE, offset=len(self._rows))
        finally:
            if generation == self._generation:
                self._fetching = False
        if generation != self._generation:
            return
        known = self._index()
        # New jobs shift offsets; a row seen twice is skipped rather than shown twice.
        rows = [self._freshest(JobRow.from_job(j)) for j in page.items if j.id not in known]
        room = MAX_LOADED - len(self._rows)
        rows = rows[: max(0, room)]
        if rows:
            first = len(self._rows)
            self.beginInsertRows(core.QModelIndex(), first, first + len(rows) - 1)
            self._rows.extend(rows)
            self._pos = None
            self.endInsertRows()
        self._set_total(max(page.total, len(self._rows)))

    def _reset(self, rows: list[JobRow], total: int) -> None:
        self.beginResetModel()
        self._rows = rows
        self._pos = None
        self._pending.clear()
        self.endResetModel()
        self._set_total(total)

    def _freshest(self, row: JobRow) -> JobRow:
        seen = self._recent.get(row.id)
        return seen if seen is not None and seen.newer_than(row) else row

    def _set_loading(self, loading: bool) -> None:
        if loading != self._loading:
            self._loading = loading
            self.loading_changed.emit(loading)

    def _set_total(self, total: int) -> None:
        if total != self.total:
            self.total = total
            self.total_changed.emit(total)

    # -- events -----------------------------------------------------------------------------------

    def apply_events(self, events: list[JobEvent]) -> None:
        """Queue events for the next frame; cheap enough to call for every batch."""
        for event in events:
            row = JobRow.from_job(event.job)
            queued = self._pending.get(row.id)
            if queued is None or row.newer_than(queued):
                self._pending[row.id] = row
            if self._loading or self._fetching:
                self._recent[row.id] = row
        if self._pending and not self._frame.isActive():
            self._frame.start()

    def on_frame_timeout(self) -> None:
        pending, self._pending = self._pending, {}
        if not pending:
            return
        self.flushes += 1
        index = self._index()
        changed: list[int] = []
        new: list[JobRow] = []
        for job_id, row in pending.items():
            at = index.get(job_id)
            if at is not None:
                if row.newer_than(self._rows[at]):
                    self._rows[at] = row
                    changed.append(at)
            elif matches(self.query, row) and not self._loading:
                new.append(row)
        self._emit_changed(changed)
        if new:
            self._insert_new(new)

    def _emit_changed(self, changed: list[int]) -> None:
        if not changed:
            return
        changed.sort()
        last_column = len(COLUMNS) - 1
        start = prev = changed[0]
        for at in [*changed[1:], None]:
            if at is not None and at == prev + 1:
                prev = at
                continue
            self.dataChanged.emit(self.index(start, 0), self.index(prev, last_column))
            if at is not None:
                start = prev = at

    def _insert_new(self, new: list[JobRow]) -> None:
        if len(new) > MAX_INSERT_PER_FRAME:
            self.reload()
            return
        order, descending = self.query.order, self.query.descending
        keys = [sort_key(order, r) for r in self._rows]
        if descending:
            keys = [_Reversed(k) for k in keys]
        new.sort(key=lambda r: sort_key(order, r), reverse=descending)
        added = 0
        for row in new:
            key = sort_key(order, row)
            at = bisect.bisect_right(keys, _Reversed(key) if descending else key)
            self._set_total(self.total + 1)
            if at >= len(self._rows) and len(self._rows) < self.total - 1:
                continue  # it belongs past the loaded rows: paging will bring it
            self.beginInsertRows(core.QModelIndex(), at, at)
            self._rows.insert(at, row)
            keys.insert(at, _Reversed(key) if descending else key)
            self.endInsertRows()
            added += 1
        if added:
            self._pos = None
            self._trim()

    def _trim(self) -> None:
        """Keep at most MAX_LOADED rows: drop the oldest loaded (the tail); paging brings them back."""
        excess = len(self._rows) - MAX_LOADED
        if excess > 0:
            self.beginRemoveRows(core.QModelIndex(), MAX_LOADED, len(self._rows) - 1)
            del self._rows[MAX_LOADED:]
            self._pos = None
            self.endRemoveRows()

    def on_clock_timeout(self) -> None:
        if self._rows:
            column = INDEX["duration"]
            self.dataChanged.emit(
                self.index(0, column), self.index(len(self._rows) - 1, column), [Role.DisplayRole]
            )

    # -- lookups ------------------------------------------------------------------------------------

    def _index(self) -> dict[str, int]:
        if self._pos is None:
            self._pos = {r.id: i for i, r in enumerate(self._rows)}
        return self._pos

    def row_at(self, row: int) -> JobRow | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, job_id: str) -> int | None:
        return self._index().get(job_id)

    def ids(self, rows: list[int]) -> list[str]:
        return [self._rows[r].id for r in sorted(set(rows)) if 0 <= r < len(self._rows)]


class _Reversed:
    """Inverts comparisons, so bisect works on a descending list."""

    __slots__ = ("key",)

    def __init__(self, key: Any) -> None:
        self.key = key

    def __lt__(self, other: _Reversed) -> bool:
        return _safe_lt(other.key, self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reversed) and self.key == other.key

    __hash__ = None  # type: ignore[assignment]


def _safe_lt(a: Any, b: Any) -> bool:
    try:
        return bool(a < b)
    except TypeError:  # None against a value: None sorts last, as PostgreSQL's default does
        return a is not None and b is None


def _tooltip(row: JobRow) -> str:
    lines = [f"{row.name}", f"id {row.id}", f"{row.type} on {row.queue}"]
    if row.error:
        lines.append(f"error: {row.error}")
    if row.cancel_requested and row.status == "active":
        lines.append("cancellation requested")
    lines.append(f"updated {row.updated_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC")
    return "\n".join(lines)
