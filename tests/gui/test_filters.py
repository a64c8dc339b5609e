"""The filter bar narrows the table, on the server: type, status, queue, and search by name or id."""

from __future__ import annotations

from jobdesk.ui.console import Console
from jobdesk.ui.models.columns import INDEX
from jobdesk.ui.qt import core
from tests.gui.conftest import Harness


def _names(console: Console) -> set[str]:
    model = console.window.model
    return {row.name for i in range(model.rowCount()) if (row := model.row_at(i)) is not None}


def test_filter_and_search_narrow_the_table(gui: Harness, console: Console) -> None:
    window = console.window
    window.tabs.setCurrentIndex(1)
    filters = window.jobs_view.filters
    tag = gui.unique("filter")

    async def settle(what: str, expected: set[str]) -> None:
        await gui.until(lambda: _names(console) == expected, what=what, timeout=10)

    async def scenario() -> None:
        noops = [
            await gui.client.create_job({"type": "test.noop", "name": f"{tag}-noop-{i}"}) for i in range(3)
        ]
        fails = [
            await gui.client.create_job({"type": "test.fail", "name": f"{tag}-fail-{i}", "maxAttempts": 1})
            for i in range(2)
        ]
        everything = {j.name for j in noops + fails}
        await gui.until(lambda: everything <= _names(console), what="all five in the table")
        filters.search.setText(tag)  # debounced: the query goes out after typing pauses
        await settle("the search", everything)
        assert window.model.total == 5

        filters.type_box.setCurrentText("test.noop")
        await settle("the type filter", {j.name for j in noops})
        filters.type_box.setCurrentText("All")
        await gui.until(lambda: all(r.status == "failed" for r in _rows(console, "fail")), what="failures")
        filters.status_box.setCurrentText("failed")
        await settle("the status filter", {j.name for j in fails})
        filters.status_box.setCurrentText("All")
        filters.queue_box.setCurrentText("test")
        await settle("the queue filter", everything)
        filters.queue_box.setCurrentText("All")

        filters.search.setText(f"{tag}-noop-1")
        await settle("a narrower search", {f"{tag}-noop-1"})
        filters.search.setText(noops[2].id[:13])  # an id prefix
        await settle("a search by id", {noops[2].name})
        filters.search.setText(f"{tag}-nothing")
        await settle("a search that finds nothing", set())
        assert "0 jobs" in window.jobs_view.count.text()

    gui.run(scenario())


def test_find_shortcut_focuses_search(gui: Harness, console: Console) -> None:
    window = console.window
    window.tabs.setCurrentIndex(0)
    window.activateWindow()
    window.job_actions.find.trigger()
    assert window.tabs.currentIndex() == 1
    assert window.jobs_view.filters.search.hasFocus()


def test_sorting_asks_the_server(gui: Harness, console: Console) -> None:
    window = console.window
    tag = gui.unique("sort")

    async def scenario() -> None:
        for p in (3, -1, 7):
            await gui.client.create_job({"type": "test.noop", "name": f"{tag}-p{p}", "priority": p})
        window.jobs_view.filters.search.setText(tag)
        await gui.until(lambda: len(_names(console)) == 3, what="three rows")
        header = window.jobs_view.table.horizontalHeader()
        header.setSortIndicator(INDEX["priority"], core.Qt.SortOrder.AscendingOrder)
        await gui.until(
            lambda: [window.model.row_at(i).priority for i in range(3)] == [-1, 3, 7],  # type: ignore[union-attr]
            what="ascending priority",
        )
        assert window.model.query.order == "priority" and not window.model.query.descending
        header.setSortIndicator(INDEX["priority"], core.Qt.SortOrder.DescendingOrder)
        await gui.until(
            lambda: [window.model.row_at(i).priority for i in range(3)] == [7, 3, -1],  # type: ignore[union-attr]
            what="descending priority",
        )

    gui.run(scenario())


def _rows(console: Console, part: str) -> list:  # type: ignore[type-arg]
    model = console.window.model
    return [r for i in range(model.rowCount()) if (r := model.row_at(i)) is not None and part in r.name]
