"""The console's Batches, Rate limits and Notifications tabs, against the embedded server and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
from psycopg.rows import dict_row

from jobdesk.client.rest import RestClient
from jobdesk.embedded import CONSOLE_ORG
from jobdesk.store import tokens
from jobdesk.ui.console import Console
from jobdesk.ui.models.records import BarRole
from jobdesk.ui.widgets.batches import PROGRESS_COLUMN
from tests.gui.conftest import Harness
from tests.support.workers import query


def _db(gui: Harness, sql: str, *params: object) -> list[tuple[object, ...]]:
    return query(gui.settings.database_url, sql, params)


def _row(view: Any, key: str) -> int | None:
    return next((i for i, r in enumerate(view.model.records) if r["id"] == key), None)


def _record(view: Any, key: str) -> dict[str, Any]:
    return next((r for r in view.model.records if r["id"] == key), {})


def _tab(console: Console, view: Any) -> int:
    return console.window.tab_views.index(view)


def test_batches_tab_groups_a_batch_follows_it_live_and_opens_its_jobs(
    gui: Harness, console: Console
) -> None:
    window = console.window
    view = window.batches_view
    heard: list[str] = []
    console.router.batch_completed.connect(heard.append)

    async def scenario() -> None:
        await gui.pause_queue("test")
        try:
            jobs = await gui.client.service.create_jobs(
                gui.client.user,
                CONSOLE_ORG,
                [
                    {"type": "test.sleep", "name": gui.unique("grouped"), "data": {"seconds": 0.3}},
                    {"type": "test.noop", "name": gui.unique("grouped")},
                    {"type": "test.fail", "name": gui.unique("grouped"), "maxAttempts": 1},
                ],
            )
            loose = await gui.client.create_job({"type": "test.noop", "name": gui.unique("loose")})
            batch_id = jobs[0].batch_id
            assert batch_id is not None

            window.tabs.setCurrentIndex(_tab(console, view))
            await gui.until(lambda: _row(view, batch_id) is not None, what="the batch listed")
            at = _row(view, batch_id)
            assert at is not None
            shown = [view.model.data(view.model.index(at, c)) for c in range(view.model.columnCount())]
            assert shown[0] == batch_id[:8] and shown[3] == "3" and shown[5] == "3"  # jobs, pending
            assert shown[PROGRESS_COLUMN] == "0 / 3 done · 0%" and shown[-1] == "running"
            bar = view.model.data(view.model.index(at, PROGRESS_COLUMN), BarRole)
            assert bar == (0.0, "0 / 3 done · 0%", "pending")
            assert "batch" in view.count_label.text()

            # Show jobs: the Jobs tab lists exactly the batch's jobs, with a chip saying so.
            view.table.selectRow(at)
            view.show_button.click()
            assert window.current_view() is window.jobs_split
            filters = window.jobs_view.filters
            assert (
                not filters.batch_label.isHidden() and filters.batch_label.text() == f"Batch {batch_id[:8]}"
            )
            ids = {j.id for j in jobs}
            model = window.model
            await gui.until(
                lambda: {model.row_at(i).id for i in range(model.rowCount())} == ids,  # type: ignore[union-attr]
                what="only the batch's jobs in the table",
            )
            assert model.query.batch_id == batch_id and model.total == 3 and loose.id not in ids
            filters.batch_clear.click()
            assert model.query.batch_id is None and filters.batch_label.isHidden()
            await gui.until(lambda: model.row_of(loose.id) is not None, what="every job again")

            # Live: with the periodic re-read stopped, job events and batch-completed alone move the row.
            window.tabs.setCurrentIndex(_tab(console, view))
            await gui.until(lambda: _row(view, batch_id) is not None, what="listed again")
            window._tick.stop()
            await gui.pause_queue("test", False)
            await gui.until(lambda: _record(view, batch_id).get("completedAt"), timeout=30, what="finished")
            record = _record(view, batch_id)
            assert record["byStatus"]["completed"] == 2 and record["byStatus"]["failed"] == 1
            assert record["percentage"] == 100
            at = _row(view, batch_id)
            assert at is not None
            assert view.model.data(view.model.index(at, PROGRESS_COLUMN)) == "3 / 3 done · 100%"
            assert view.model.data(view.model.index(at, PROGRESS_COLUMN), BarRole)[2] == "failed"
            await gui.until(lambda: batch_id in heard, what="the router's batch-completed")

            # Unfinished only: a finished batch leaves the list.
            view.open_only.setChecked(True)
            await gui.until(lambda: _row(view, batch_id) is None, what="the finished batch hidden")
            view.open_only.setChecked(False)
        finally:
            window._tick.start()
            await gui.pause_queue("test", False)

    gui.run(scenario(), timeout=90)


def test_job_detail_opens_the_jobs_of_its_batch(gui: Harness, console: Console) -> None:
    window = console.window
    flow = window.detail.flow

    async def scenario() -> None:
        await gui.pause_queue("test")
        ids: list[str] = []
        try:
            jobs = await gui.client.service.create_jobs(
                gui.client.user, CONSOLE_ORG, [{"type": "test.noop", "name": gui.unique("pair")}] * 2
            )
            ids = [j.id for j in jobs]
            window.tabs.setCurrentIndex(1)
            window.detail.show_job(ids[0])
            await gui.until(lambda: flow.job is not None and flow.job.id == ids[0], what="the job shown")
            assert not flow.batch_button.isHidden()
            flow.batch_button.click()
            assert window.model.query.batch_id == jobs[0].batch_id
            await gui.until(lambda: window.model.total == 2, what="the pair listed")
        finally:
            window.jobs_view.filters.set_batch(None)
            await gui.client.cancel_jobs(ids)
            await gui.pause_queue("test", False)

    gui.run(scenario())


def test_rate_limits_tab_sets_shows_holding_back_and_removes(gui: Harness, console: Console) -> None:
    window = console.window
    view = window.rate_limits_view
    view.confirm = lambda _title, _question: True

    async def scenario() -> None:
        try:
            window.tabs.setCurrentIndex(_tab(console, view))
            await gui.until(lambda: view.key_box.findText("test.sleep") >= 0, what="the job types offered")
            view.scope_box.setCurrentIndex(0)
            view.key_box.setEditText("test.sleep")
            view.per_second_box.setValue(50)
            view.concurrent_box.setValue(1)
            view.set_button.click()
            await gui.until(
                lambda: (
                    _db(gui, "SELECT per_second, max_concurrent FROM rate_limits WHERE key = 'test.sleep'")
                    == [(50.0, 1)]
                ),
                what="the limit in PostgreSQL",
            )
            await gui.until(lambda: _row(view, "type test.sleep") is not None, what="the limit listed")
            at = _row(view, "type test.sleep")
            shown = [view.model.data(view.model.index(at, c)) for c in range(view.model.columnCount())]
            assert shown[:4] == ["job type", "test.sleep", "50", "1"]

            # Three one-second jobs against a cap of one: the row says which queue it holds back.
            await asyncio.sleep(1.5)  # a dispatcher looks for new limits once a second
            names = [gui.unique("capped") for _ in range(3)]
            for name in names:
                await gui.client.create_job({"type": "test.sleep", "name": name, "data": {"seconds": 1.0}})
            await gui.until(
                lambda: (
                    "queue test: at its limit of 1 concurrent jobs"
                    in (_record(view, "type test.sleep").get("holding") or [])
                ),
                timeout=30,
                what="the limit shown holding the queue back",
            )

            # Selecting a row loads it into the form; a change replaces it.
            view.table.selectRow(_row(view, "type test.sleep"))  # type: ignore[arg-type]
            assert view.key_box.currentText() == "test.sleep" and view.concurrent_box.value() == 1
            view.concurrent_box.setValue(0)  # none: a rate only
            view.set_button.click()
            await gui.until(
                lambda: (
                    _db(gui, "SELECT per_second, max_concurrent FROM rate_limits WHERE key = 'test.sleep'")
                    == [(50.0, None)]
                ),
                what="the limit replaced",
            )

            # An organization's limit, and a form missing its numbers.
            view.scope_box.setCurrentIndex(1)
            view.key_box.setEditText("gui-org")
            view.per_second_box.setValue(0)
            view.set_button.click()
            await gui.until(
                lambda: any("jobs per second, jobs at once" in t for _, t in window.notices.history),
                what="the form's complaint",
            )
            view.concurrent_box.setValue(7)
            view.set_button.click()
            await gui.until(lambda: _row(view, "organization gui-org") is not None, what="the org limit")

            view.table.selectRow(_row(view, "type test.sleep"))  # type: ignore[arg-type]
            view.remove_button.click()
            await gui.until(
                lambda: not _db(gui, "SELECT 1 FROM rate_limits WHERE key = 'test.sleep'"), what="removed"
            )
            await gui.until(lambda: _row(view, "type test.sleep") is None, what="the row gone")
            assert _row(view, "organization gui-org") is not None
        finally:
            # Through the client, on the loop: the dispatcher locks these rows in its transactions.
            for limit in await gui.client.rate_limits():
                if limit["key"] in ("test.sleep", "gui-org"):
                    await gui.client.remove_rate_limit(limit["scope"], limit["key"])

    gui.run(scenario(), timeout=90)


def test_notifications_tab_adds_refuses_and_removes_rules(gui: Harness, console: Console) -> None:
    window = console.window
    view = window.rules_view
    view.confirm = lambda _title, _question: True
    target = f"http://127.0.0.1:9/{gui.unique('hook')}"

    async def scenario() -> None:
        try:
            window.tabs.setCurrentIndex(_tab(console, view))
            await gui.until(lambda: view.type_box.findText("test.noop") >= 0, what="the job types offered")
            view.type_box.setCurrentText("test.noop")
            view.channel_box.setCurrentText("webhook")
            view.target_edit.setText(target)
            view.event_boxes["completed"].setChecked(False)
            view.add_button.click()
            await gui.until(
                lambda: (
                    _db(
                        gui,
                        "SELECT organization_id, job_type, channel, events FROM notification_rules"
                        " WHERE target = %s",
                        target,
                    )
                    == [(CONSOLE_ORG, "test.noop", "webhook", ["failed"])]
                ),
                what="the rule in PostgreSQL",
            )
            await gui.until(lambda: any(r["target"] == target for r in view.model.records), what="listed")
            rule = next(r for r in view.model.records if r["target"] == target)
            at = _row(view, rule["id"])
            shown = [view.model.data(view.model.index(at, c)) for c in range(view.model.columnCount())]
            assert shown[:5] == ["test.noop", "webhook", target, "failed", CONSOLE_ORG]
            assert view.target_edit.text() == ""

            # The server's checks reach the operator as one line.
            view.channel_box.setCurrentText("email")
            view.target_edit.setText("not an address")
            view.add_button.click()
            await gui.until(
                lambda: any("is not an email address" in t for _, t in window.notices.history),
                what="the refusal shown",
            )
            view.channel_box.setCurrentText("webhook")
            view.target_edit.setText(target)
            view.event_boxes["completed"].setChecked(False)
            view.add_button.click()
            await gui.until(
                lambda: any("already notify" in t for _, t in window.notices.history), what="the duplicate"
            )

            view.table.selectRow(_row(view, rule["id"]))  # type: ignore[arg-type]
            view.remove_button.click()
            await gui.until(
                lambda: not _db(gui, "SELECT 1 FROM notification_rules WHERE target = %s", target),
                what="removed",
            )
            await gui.until(lambda: _row(view, rule["id"]) is None, what="the row gone")
        finally:
            _db(gui, "DELETE FROM notification_rules WHERE target = %s RETURNING 1", target)

    gui.run(scenario())


def test_rest_client_reaches_batches_limits_and_rules(gui: Harness) -> None:
    server = gui.client.server
    assert server is not None
    with psycopg.connect(gui.settings.database_url, autocommit=True, row_factory=dict_row) as conn:
        token, info = tokens.create(
            conn,  # type: ignore[arg-type]
            "batches-test",
            CONSOLE_ORG,
            is_admin=True,
            name="batch views",
        )
    client = RestClient(server.api_url, token, ws_url=server.ws_url)
    completed: list[str] = []
    client.on_batch_completed(completed.append)
    target = f"https://example.org/{gui.unique('hook')}"

    async def scenario() -> None:
        from jobdesk.client.base import JobQuery

        client.subscribe(lambda _events: None)  # opens the event stream
        await gui.until(lambda: client.events.connected, what="the event stream")
        jobs = await gui.client.service.create_jobs(
            gui.client.user, CONSOLE_ORG, [{"type": "test.noop", "name": gui.unique("rest-batch")}] * 2
        )
        batch_id = jobs[0].batch_id
        assert batch_id is not None
        page = await client.list_jobs(JobQuery(batch_id=batch_id))
        assert page.total == 2 and {j.id for j in page.items} == {j.id for j in jobs}
        await gui.until(lambda: batch_id in completed, timeout=30, what="batch-completed over the WebSocket")
        listed = await client.batches(limit=500)
        assert batch_id in [b["id"] for b in listed.items]
        assert batch_id not in [b["id"] for b in (await client.batches(open_only=True, limit=500)).items]

        limit = await client.set_rate_limit("organization", "rest-org", per_second=2.5)
        assert limit == {"scope": "organization", "key": "rest-org", "perSecond": 2.5, "maxConcurrent": None}
        assert limit in await client.rate_limits()
        await client.remove_rate_limit("organization", "rest-org")
        assert limit not in await client.rate_limits()

        rule = await client.add_notification_rule(
            {"jobType": "test.noop", "channel": "slack", "target": target}
        )
        assert rule["events"] == ["completed", "failed"]
        assert rule["id"] in [r["id"] for r in await client.notification_rules("test.noop")]
        assert (await client.remove_notification_rule(rule["id"]))["target"] == target

    async def cleanup() -> None:
        # On the loop, through the engine: a dispatcher round may hold the limit rows locked.
        await client.close()
        if any(x["key"] == "rest-org" for x in await gui.client.rate_limits()):
            await gui.client.remove_rate_limit("organization", "rest-org")
        for rule in await gui.client.notification_rules("test.noop"):
            if rule["target"] == target:
                await gui.client.remove_notification_rule(rule["id"])

    try:
        gui.run(scenario())
    finally:
        gui.run(cleanup())
        with psycopg.connect(gui.settings.database_url, autocommit=True, row_factory=dict_row) as conn:
            tokens.revoke(conn, info.id)  # type: ignore[arg-type]
