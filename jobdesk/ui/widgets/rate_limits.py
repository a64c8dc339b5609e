"""The rate limits tab: limits per job type and per organization; set, replace or remove them.

A limit caps dispatches per second (a token bucket holding one second's
worth) and/or jobs in flight at once, over every server and worker. Each row
also says whether the limit is holding a queue back now, as the dispatcher
last reported it (the queues' `heldBack`).
"""

from __future__ import annotations

from typing import Any

from jobdesk.client.base import JobsClient
from jobdesk.ui import aio, resources
from jobdesk.ui.actions import Confirm, ask
from jobdesk.ui.models.records import Field, RecordsModel
from jobdesk.ui.qt import Signal, core, widgets
from jobdesk.ui.widgets.records_table import fit_columns, records_table, selected_records

SCOPES = ("type", "organization")
NONE = "none"


def limit_label(record: dict[str, Any]) -> str:
    """`type data-conversion`: how the dispatcher names a limit in its held-back reasons."""
    return f"{record.get('scope', '')} {record.get('key', '')}"


def _holding_colour(record: dict[str, Any]) -> Any:
    return resources.current().status_color("pending" if record.get("holding") else "completed")


LIMIT_FIELDS = [
    Field("Scope", lambda r: "job type" if r.get("scope") == "type" else "organization"),
    Field("Key", lambda r: str(r.get("key", ""))),
    Field("Per second", lambda r: f"{r['perSecond']:g}" if r.get("perSecond") else NONE, numeric=True),
    Field("Max concurrent", lambda r: str(r.get("maxConcurrent") or NONE), numeric=True),
    Field("Holding back now", lambda r: "; ".join(r.get("holding") or []), foreground=_holding_colour),
]


def with_holding(limits: list[dict[str, Any]], queues: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each limit plus `holding`: "queue q: reason" for every queue it holds back now."""
    out = []
    for limit in limits:
        prefix = f"{limit_label(limit)} is "
        holding = [
            f"queue {q['name']}: {part.removeprefix(prefix)}"
            for q in queues
            for part in str(q.get("heldBack") or "").split("; ")
            if part.startswith(prefix)
        ]
        out.append({**limit, "id": limit_label(limit), "holding": holding})
    return out


class RateLimitsView(widgets.QWidget):
    """Attributes:
        confirm: asked before a removal; tests replace it.
        scope_box, key_box, per_second_box, concurrent_box: the form that sets a limit.

    Signals:
        message(str, str): what a change did, and its kind.
    """

    message = Signal(str, str)

    def __init__(self, parent: widgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.client: JobsClient | None = None
        self.confirm: Confirm = ask(self)
        self.model = RecordsModel(LIMIT_FIELDS, "id", self)
        self.table = records_table(self.model, name="rateLimitsTable")
        fit_columns(self.table, stretch=len(LIMIT_FIELDS) - 1)  # the held-back reasons take the rest
        self.table.selectionModel().currentRowChanged.connect(self.on_current_row_changed)
        self._types: list[str] = []

        self.scope_box = widgets.QComboBox()
        self.scope_box.setObjectName("limitScope")
        self.scope_box.addItems(["job type", "organization"])
        self.scope_box.currentIndexChanged.connect(self.on_scope_box_current_index_changed)
        self.key_box = widgets.QComboBox()
        self.key_box.setObjectName("limitKey")
        self.key_box.setEditable(True)
        self.key_box.setMinimumContentsLength(18)
        line = self.key_box.lineEdit()
        if line is not None:
            line.setPlaceholderText("job type or organization id")
        self.per_second_box = widgets.QDoubleSpinBox()
        self.per_second_box.setObjectName("limitPerSecond")
        self.per_second_box.setRange(0, 100_000)
        self.per_second_box.setDecimals(2)
        self.per_second_box.setSpecialValueText(NONE)  # 0 means no rate limit
        self.concurrent_box = widgets.QSpinBox()
        self.concurrent_box.setObjectName("limitConcurrent")
        self.concurrent_box.setRange(0, 100_000)
        self.concurrent_box.setSpecialValueText(NONE)  # 0 means no cap
        self.set_button = resources.button("add", "Set limit")
        self.set_button.clicked.connect(self.on_set_button_clicked)
        self.remove_button = resources.button("cancel", "Remove")
        self.remove_button.clicked.connect(self.on_remove_button_clicked)

        form = widgets.QHBoxLayout()
        for label, widget in (
            ("Limit", self.scope_box),
            ("", self.key_box),
            ("Jobs/s", self.per_second_box),
            ("At once", self.concurrent_box),
        ):
            if label:
                form.addWidget(widgets.QLabel(label))
            form.addWidget(widget)
        form.addWidget(self.set_button)
        form.addStretch(1)
        form.addWidget(self.remove_button)
        note = widgets.QLabel(
            "The dispatcher applies every limit across all servers and workers: at most so many jobs "
            "dispatched a second (bursts of one second's worth) and so many in flight at once. A job "
            "must fit both its type's and its organization's limits. Setting a limit that exists "
            "replaces it. Also `jobdesk limits set|remove`."
        )
        note.setWordWrap(True)
        layout = widgets.QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.table, 1)
        layout.addWidget(note)

    def set_types(self, types: list[str]) -> None:
        """The registered job types, offered as keys of a type limit."""
        self._types = sorted(types)
        self.on_scope_box_current_index_changed(self.scope_box.currentIndex())

    def scope(self) -> str:
        return SCOPES[max(0, self.scope_box.currentIndex())]

    async def refresh(self, client: JobsClient) -> None:
        limits = await client.rate_limits()
        queues = await client.queues()
        self.model.set_records(with_holding(limits, queues))

    def selected(self) -> list[dict[str, Any]]:
        return selected_records(self.table, self.model)

    async def set_limit(
        self, scope: str, key: str, per_second: float | None, max_concurrent: int | None
    ) -> dict[str, Any] | None:
        if self.client is None:
            return None
        key = key.strip()
        if not key:
            what = "job type" if scope == "type" else "organization"
            self.message.emit(f"Name the {what} to limit", "failed")
            return None
        if per_second is None and max_concurrent is None:
            self.message.emit("Give jobs per second, jobs at once, or both", "failed")
            return None
        limit = await self.client.set_rate_limit(
            scope, key, per_second=per_second, max_concurrent=max_concurrent
        )
        self.message.emit(f"Limited {limit_label(limit)}: {describe(limit)}", "info")
        await self.refresh(self.client)
        return limit

    async def remove(self, limits: list[dict[str, Any]]) -> None:
        if self.client is None or not limits:
            return
        for limit in limits:
            await self.client.remove_rate_limit(limit["scope"], limit["key"])
        self.message.emit(f"Removed the limit of {', '.join(limit_label(x) for x in limits)}", "info")
        await self.refresh(self.client)

    # -- slots ------------------------------------------------------------------------------------

    def on_scope_box_current_index_changed(self, _index: int) -> None:
        text = self.key_box.currentText()
        self.key_box.clear()
        if self.scope() == "type":
            self.key_box.addItems(self._types)
        self.key_box.setEditText(text)

    def on_current_row_changed(self, current: core.QModelIndex, _previous: core.QModelIndex) -> None:
        """Load the limit under the cursor into the form, to change it."""
        limit = self.model.record(current.row()) if current.isValid() else None
        if limit is None:
            return
        self.scope_box.setCurrentIndex(SCOPES.index(limit["scope"]) if limit["scope"] in SCOPES else 0)
        self.key_box.setEditText(str(limit["key"]))
        self.per_second_box.setValue(float(limit.get("perSecond") or 0))
        self.concurrent_box.setValue(int(limit.get("maxConcurrent") or 0))

    def on_set_button_clicked(self) -> None:
        per_second = self.per_second_box.value() or None
        concurrent = self.concurrent_box.value() or None
        coro = self.set_limit(self.scope(), self.key_box.currentText(), per_second, concurrent)
        aio.spawn(coro, context="setting the limit")

    def on_remove_button_clicked(self) -> None:
        chosen = self.selected()
        names = ", ".join(limit_label(x) for x in chosen)
        if chosen and self.confirm("Remove rate limits", f"Remove the limit of {names}?"):
            aio.spawn(self.remove(chosen), context="removing the limit")


def describe(limit: dict[str, Any]) -> str:
    parts = []
    if limit.get("perSecond"):
        parts.append(f"{limit['perSecond']:g} jobs/s")
    if limit.get("maxConcurrent"):
        parts.append(f"{limit['maxConcurrent']} at once")
    return ", ".join(parts) or "no limit"
