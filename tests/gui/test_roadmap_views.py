"""The roadmap's features in the console: why a job waits, dead letters, schedules (issue 6)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from jobdesk.client.rest import RestClient
from jobdesk.core.errors import NotFound
from jobdesk.embedded import CONSOLE_ORG
from jobdesk.store import tokens
from jobdesk.ui.console import Console
from jobdesk.ui.qt import core
from tests.gui.conftest import Harness
from tests.support.workers import query


def _db(gui: Harness, sql: str, *params: object) -> list[tuple[object, ...]]:
    return query(gui.settings.database_url, sql, params)


def test_detail_says_why_a_pending_job_waits_with_its_chain_and_batch(gui: Harness, console: Console) -> None:
    window = console.window
    flow = window.detail.flow
    window.tabs.setCurrentIndex(1)

    async def scenario() -> None:
        await gui.pause_queue("test")
        ids: list[str] = []
        try:
            parent = await gui.client.create_job({"type": "test.noop", "name": gui.unique("parent")})
            batch = await gui.client.service.create_jobs(
                gui.client.user,
                CONSOLE_ORG,
                [
                    {"type": "test.noop", "name": gui.unique("child"), "dependsOn": [parent.id]},
                    {"type": "test.noop", "name": gui.unique("sibling")},
                ],
            )
            ids = [parent.id] + [j.id for j in batch]
            child = batch[0]
            batch_id = child.batch_id
            assert batch_id is not None
            window.detail.show_job(child.id)
            await gui.until(lambda: "paused" in flow.why_label.text(), what="the why text")
            why = flow.why_label.text()
            assert "queue test is paused" in why
            assert f"waits for job {parent.id} (pending)" in why
            assert not flow.why_label.isHidden()
            await gui.until(lambda: parent.id in flow.depends_label.text(), what="the dependency")
            assert "pending" in flow.depends_label.text()
            await gui.until(lambda: batch_id in flow.batch_label.text(), what="the batch")
            assert "0% of 2 jobs" in flow.batch_label.text()

            # A job that is not pending has no why section, and says nothing of a batch it lacks.
            await gui.pause_queue("test", False)
            await gui.until(
                lambda: _db(gui, "SELECT status FROM jobs WHERE id = %s", parent.id) == [("completed",)],
                what="the parent to run",
            )
            window.detail.show_job(parent.id)
            await gui.until(lambda: flow.job is not None and flow.job.id == parent.id, what="parent shown")
            assert flow.why_label.isHidden() and flow.batch_label.isHidden()
        finally:
            await gui.pause_queue("test", False)
            for job_id in ids:
                await gui.client.cancel_jobs([job_id])

    gui.run(scenario())


def test_dead_letters_lists_failures_and_requeues_and_purges_them(gui: Harness, console: Console) -> None:
    window = console.window
    view = window.dead_letters_view
    asked: list[str] = []

    def confirm(_title: str, question: str) -> bool:
        asked.append(question)
        return True

    view.confirm = confirm

    async def scenario() -> None:
        jobs = [
            await gui.client.create_job({"type": "test.fail", "name": gui.unique("dead"), "maxAttempts": 1})
            for _ in range(2)
        ]
        ids = [j.id for j in jobs]
        await gui.until(
            lambda: (
                {s for (s,) in _db(gui, "SELECT status FROM jobs WHERE id::text = ANY(%s)", ids)}
                == {"failed"}
            ),
            what="two failures",
        )
        window.tabs.setCurrentIndex(4)
        await gui.until(lambda: all(_row(view, i) is not None for i in ids), what="both listed")
        record = view.model.record(_row(view, ids[0]))  # type: ignore[arg-type]
        assert record is not None and record["error"], record
        assert "failed job" in view.count_label.text()

        await gui.pause_queue("test")  # the requeued job stays pending long enough to be seen
        try:
            view.table.selectRow(_row(view, ids[0]))  # type: ignore[arg-type]
            assert view.selected_ids() == [ids[0]]
            view.requeue_button.click()
            await gui.until(
                lambda: (
                    _db(gui, "SELECT status, attempts FROM jobs WHERE id = %s", ids[0]) == [("pending", 0)]
                ),
                what="requeued in PostgreSQL",
            )
            await gui.until(lambda: _row(view, ids[0]) is None, what="the row to leave the list")
        finally:
            await gui.pause_queue("test", False)

        view.table.selectRow(_row(view, ids[1]))  # type: ignore[arg-type]
        view.purge_button.click()
        assert asked == ["Delete 1 failed job? This cannot be undone."]
        await gui.until(lambda: not _db(gui, "SELECT 1 FROM jobs WHERE id = %s", ids[1]), what="purged")
        await gui.until(lambda: _row(view, ids[1]) is None, what="the purged row gone")
        assert any("Purged 1 failed job" in t for _, t in window.notices.history)

    gui.run(scenario())


def test_schedules_view_lists_and_disables_a_schedule(gui: Harness, console: Console) -> None:
    window = console.window
    view = window.schedules_view
    view.confirm = lambda _title, _question: True
    assert gui.client.server is not None, "schedules need the embedded server"
    service = gui.client.server.extras.schedules
    name = gui.unique("nightly")

    async def scenario() -> None:
        schedule = await service.add_schedule(
            "tester", CONSOLE_ORG, {"name": name, "cron": "0 3 * * *", "job": {"type": "test.noop"}}
        )
        try:
            window.tabs.setCurrentIndex(5)
            await gui.until(lambda: _row(view, schedule.id) is not None, what="the schedule listed")
            at = _row(view, schedule.id)
            assert at is not None
            shown = [view.model.data(view.model.index(at, c)) for c in range(view.model.columnCount())]
            assert shown[0] == name and shown[1] == "0 3 * * * (UTC)" and shown[5] == "enabled"
            assert shown[3], "the next run"

            view.table.selectRow(at)
            view.disable_button.click()
            await gui.until(
                lambda: _db(gui, "SELECT enabled FROM schedules WHERE id = %s", schedule.id) == [(False,)],
                what="disabled in PostgreSQL",
            )
            await gui.until(lambda: _record(view, schedule.id).get("enabled") is False, what="the row")

            view.table.selectRow(_row(view, schedule.id))  # type: ignore[arg-type]
            view.remove_button.click()
            await gui.until(
                lambda: not _db(gui, "SELECT 1 FROM schedules WHERE id = %s", schedule.id), what="removed"
            )
        finally:
            if _db(gui, "SELECT 1 FROM schedules WHERE id = %s", schedule.id):
                await service.remove_schedule(schedule.id)

    gui.run(scenario())


def test_queues_view_has_a_held_back_column(gui: Harness, console: Console) -> None:
    view = console.window.queues_view
    across = core.Qt.Orientation.Horizontal
    titles = [view.model.headerData(c, across) for c in range(view.model.columnCount())]
    assert titles[-1] == "Held back"
    view.model.set_records([{"name": "q", "heldBack": "type test.sleep is over 5/s"}])
    assert view.model.data(view.model.index(0, len(titles) - 1)) == "type test.sleep is over 5/s"


def test_rest_client_reaches_the_same_features(gui: Harness) -> None:
    server = gui.client.server
    assert server is not None
    with psycopg.connect(gui.settings.database_url, autocommit=True, row_factory=dict_row) as conn:
        token, info = tokens.create(
            conn,  # type: ignore[arg-type]
            "roadmap-test",
            CONSOLE_ORG,
            is_admin=True,
            name="roadmap views",
        )
    client = RestClient(server.api_url, token, ws_url=server.ws_url)
    name = gui.unique("rest-nightly")

    async def scenario() -> None:
        failed = await gui.client.create_job(
            {"type": "test.fail", "name": gui.unique("rest"), "maxAttempts": 1}
        )
        await gui.until(
            lambda: _db(gui, "SELECT status FROM jobs WHERE id = %s", failed.id) == [("failed",)],
            what="failure",
        )
        assert (await client.why(failed.id))["waiting"] is False
        assert failed.id in [j.id for j in (await client.dead_letters(limit=500)).items]
        await gui.pause_queue("test")
        try:
            assert await client.requeue_dead([failed.id]) == 1
            assert (await client.why(failed.id))["waiting"] is True
            await client.cancel_job(failed.id)
        finally:
            await gui.pause_queue("test", False)
        assert await client.purge_dead([failed.id]) == 0  # cancelled, not failed: skipped
        with pytest.raises(NotFound):
            await client.batch("00000000-0000-0000-0000-000000000000")
        added = await gui.client.server.extras.schedules.add_schedule(  # type: ignore[union-attr]
            "tester", CONSOLE_ORG, {"name": name, "cron": "0 3 * * *", "job": {"type": "test.noop"}}
        )
        assert name in [s["name"] for s in await client.schedules()]
        assert (await client.set_schedule_enabled(name, False))["enabled"] is False
        assert (await client.remove_schedule(added.id))["name"] == name

    try:
        gui.run(scenario())
    finally:
        gui.run(client.close())
        with psycopg.connect(gui.settings.database_url, autocommit=True, row_factory=dict_row) as conn:
            tokens.revoke(conn, info.id)  # type: ignore[arg-type]


def _row(view: Any, key: str) -> int | None:
    return next((i for i, r in enumerate(view.model.records) if r["id"] == key), None)


def _record(view: Any, key: str) -> dict[str, Any]:
    return next((r for r in view.model.records if r["id"] == key), {})
