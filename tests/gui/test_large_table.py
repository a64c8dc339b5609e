"""100,000 jobs: the table model loads pages as the view scrolls, never the whole table."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

import psycopg
import pytest

from jobdesk.client.base import JobQuery
from jobdesk.ui.console import Console
from jobdesk.ui.models.columns import INDEX
from jobdesk.ui.models.jobs import MAX_LOADED, PAGE, JobsTableModel
from jobdesk.ui.qt import core
from tests.gui.conftest import Harness

ROWS = 100_000


@pytest.fixture(scope="module")
def many_jobs(gui: Harness) -> Iterator[str]:
    """100,000 finished jobs of an organization of their own, written straight to PostgreSQL."""
    org = gui.unique("bulk-org")
    url = gui.settings.database_url
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """
            INSERT INTO jobs (type, name, queue, status, user_id, organization_id, attempts, progress_current,
                              progress_total, created_at, updated_at, started_at, completed_at)
            SELECT 'test.noop', 'bulk ' || to_char(g, 'FM000000'), 'test', 'completed', 'loader', %s, 1,
                   10, 10, now() - g * interval '1 second', now(), now() - g * interval '1 second',
                   now() - g * interval '1 second' + interval '40 milliseconds'
            FROM generate_series(1, %s) AS g
            """,
            (org, ROWS),
        )
    try:
        yield org
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DELETE FROM jobs WHERE organization_id = %s", (org,))


def test_model_pages_through_100k_jobs_without_loading_them(gui: Harness, many_jobs: str) -> None:
    model = JobsTableModel(gui.client)

    async def scenario() -> dict[str, float]:
        timings = {}
        started = time.perf_counter()
        await model.load()
        timings["first page"] = time.perf_counter() - started
        assert model.total >= ROWS
        assert model.rowCount() == PAGE
        assert model.canFetchMore()
        model.fetchMore()
        assert not model.canFetchMore()  # one page request at a time
        await gui.until(lambda: model.rowCount() == 2 * PAGE, what="the second page")
        # No duplicates: each loaded job once.
        ids = [model.row_at(i).id for i in range(model.rowCount())]  # type: ignore[union-attr]
        assert len(set(ids)) == len(ids)
        started = time.perf_counter()
        model.sort(INDEX["name"], core.Qt.SortOrder.AscendingOrder)
        await gui.until(lambda: not model._loading, what="the sorted first page")
        timings["sorted first page"] = time.perf_counter() - started
        assert model.rowCount() == PAGE and model.row_at(0).name == "bulk 000001"  # type: ignore[union-attr]
        return timings

    timings = gui.run(scenario())
    assert model.rowCount() < model.total
    assert timings["first page"] < 5 and timings["sorted first page"] < 5, timings
    print(f"\n100k model: {', '.join(f'{k} {v * 1000:.0f} ms' for k, v in timings.items())}")


def test_scrolling_the_view_fetches_more_and_loading_stays_bounded(
    gui: Harness, console: Console, many_jobs: str
) -> None:
    window = console.window
    window.tabs.setCurrentIndex(1)
    table = window.jobs_view.table
    model = window.model

    async def scenario() -> None:
        await model.load()
        assert model.rowCount() == PAGE
        for pages in range(2, 6):
            table.scrollToBottom()  # the view asks canFetchMore/fetchMore at the end of the range
            await gui.until(lambda p=pages: model.rowCount() >= p * PAGE, what=f"page {pages}")
        assert "of" in window.jobs_view.count.text() and "scroll for more" in window.jobs_view.count.text()

    gui.run(scenario())
    assert PAGE * 5 <= model.rowCount() <= MAX_LOADED < model.total


def test_filters_apply_server_side_over_100k(gui: Harness, many_jobs: str) -> None:
    model = JobsTableModel(gui.client)
    model.query = replace(JobQuery(), search="bulk 09999")

    async def scenario() -> None:
        await model.load()

    gui.run(scenario())
    # bulk 099990 .. bulk 099999: ten rows, all there, nothing more to fetch.
    assert model.total == 10 and model.rowCount() == 10 and not model.canFetchMore()
