"""Cancel from the table, bulk retry and bulk cancel on a selection, copy id, shortcuts."""

from __future__ import annotations

from jobdesk.ui.console import Console
from jobdesk.ui.qt import widgets
from tests.gui.conftest import Harness
from tests.support.workers import query


def _status_in_db(gui: Harness, ids: list[str]) -> dict[str, str]:
    rows = query(
        gui.settings.database_url, "SELECT id::text, status FROM jobs WHERE id::text = ANY(%s)", (ids,)
    )
    return dict(rows)  # type: ignore[arg-type]


def _model_status(console: Console, job_id: str) -> str | None:
    model = console.window.model
    at = model.row_of(job_id)
    row = model.row_at(at) if at is not None else None
    return row.status if row else None


def test_cancel_from_the_table_cancels_in_postgresql(gui: Harness, console: Console) -> None:
    window = console.window
    window.tabs.setCurrentIndex(1)

    async def scenario() -> str:
        job = await gui.client.create_job(
            {"type": "test.sleep", "name": gui.unique("to-cancel"), "data": {"seconds": 30, "steps": 300}}
        )
        await gui.until(lambda: _model_status(console, job.id) == "active", what="the job to run")
        window.jobs_view.select_ids([job.id])
        assert [r.id for r in window.selected_rows()] == [job.id]
        assert window.job_actions.cancel.isEnabled() and not window.job_actions.retry.isEnabled()
        window.job_actions.cancel.trigger()
        await gui.until(lambda: _status_in_db(gui, [job.id]) == {job.id: "cancelled"}, what="cancelled in PG")
        await gui.until(lambda: _model_status(console, job.id) == "cancelled", what="the row to show it")
        return job.id

    gui.run(scenario())


def test_bulk_retry_requeues_three_failed_jobs(gui: Harness, console: Console) -> None:
    window = console.window
    window.tabs.setCurrentIndex(1)

    async def scenario() -> None:
        jobs = [
            await gui.client.create_job({"type": "test.fail", "name": gui.unique("bulk"), "maxAttempts": 1})
            for _ in range(3)
        ]
        ids = [j.id for j in jobs]
        await gui.until(
            lambda: all(_model_status(console, i) == "failed" for i in ids), what="three failures"
        )
        # Hold the queue so that the requeued jobs stay pending long enough to be seen as such.
        await gui.pause_queue("test")
        try:
            window.jobs_view.select_ids(ids)
            assert len(window.selected_rows()) == 3
            assert window.job_actions.retry.isEnabled() and not window.job_actions.cancel.isEnabled()
            window.job_actions.retry.trigger()
            await gui.until(
                lambda: set(_status_in_db(gui, ids).values()) == {"pending"}, what="all three pending in PG"
            )
            await gui.until(
                lambda: all(_model_status(console, i) == "pending" for i in ids), what="rows to follow"
            )
            assert any("Requeued 3 jobs" in text for _, text in window.notices.history)
        finally:
            await gui.pause_queue("test", False)
        await gui.until(lambda: all(_model_status(console, i) == "failed" for i in ids), what="reruns")

    gui.run(scenario())


def test_bulk_cancel_asks_first(gui: Harness, console: Console) -> None:
    window = console.window
    window.tabs.setCurrentIndex(1)
    asked: list[str] = []
    answer = [False]

    def confirm(_title: str, question: str) -> bool:
        asked.append(question)
        return answer[0]

    window.job_actions.confirm = confirm

    async def scenario() -> None:
        await gui.pause_queue("test")
        try:
            jobs = [
                await gui.client.create_job({"type": "test.noop", "name": gui.unique("held")})
                for _ in range(2)
            ]
            ids = [j.id for j in jobs]
            await gui.until(lambda: all(_model_status(console, i) == "pending" for i in ids), what="rows")
            window.jobs_view.select_ids(ids)
            window.job_actions.cancel.trigger()
            assert asked == ["Cancel 2 jobs? Running jobs stop."]
            assert set(_status_in_db(gui, ids).values()) == {"pending"}  # declined: nothing happened
            answer[0] = True
            window.job_actions.cancel.trigger()
            await gui.until(lambda: set(_status_in_db(gui, ids).values()) == {"cancelled"}, what="cancel")
        finally:
            await gui.pause_queue("test", False)

    gui.run(scenario())


def test_copy_id_and_every_action_has_a_shortcut(gui: Harness, console: Console) -> None:
    window = console.window
    actions = window.job_actions
    for action in (
        actions.create,
        actions.cancel,
        actions.retry,
        actions.copy_id,
        actions.refresh,
        actions.find,
    ):
        assert not action.shortcut().isEmpty(), action.text()

    async def scenario() -> str:
        job = await gui.client.create_job({"type": "test.noop", "name": gui.unique("copy")})
        await gui.until(lambda: window.model.row_of(job.id) is not None, what="the row")
        window.jobs_view.select_ids([job.id])
        actions.copy_id.trigger()
        return job.id

    job_id = gui.run(scenario())
    assert widgets.QApplication.clipboard().text() == job_id
