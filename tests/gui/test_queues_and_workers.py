"""The queues tab pauses and resumes; the workers tab lists workers and starts and stops the local ones."""

from __future__ import annotations

import time

from jobdesk.ui.console import Console
from tests.gui.conftest import Harness


def test_queues_tab_lists_queues_and_pauses_one(gui: Harness, console: Console) -> None:
    window = console.window
    view = window.queues_view

    async def scenario() -> None:
        window.tabs.setCurrentIndex(2)
        await gui.until(lambda: view.model.rowCount() > 0, what="queues listed")
        names = [r["name"] for r in view.model.records]
        assert "test" in names
        view.table.selectRow(names.index("test"))
        assert view.selected_names() == ["test"]
        view.pause_button.click()
        await gui.until(lambda: _queue(view, "test").get("paused") is True, what="test paused")
        assert view.model.data(view.model.index(names.index("test"), 1)) == "paused"
        view.resume_button.click()
        await gui.until(lambda: _queue(view, "test").get("paused") is False, what="test resumed")

    gui.run(scenario())
    assert [r["paused"] for r in gui.run(gui.client.queues()) if r["name"] == "test"] == [False]


def test_tray_menu_pause_all_pauses_every_queue(gui: Harness, console: Console) -> None:
    async def scenario() -> None:
        console.tray.pause_action.trigger()  # checked: pause all
        await gui.until(lambda: console.tray.pause_action.isChecked(), what="the action checked")
        await gui.until(
            lambda: any("Paused all" in t for _, t in console.window.notices.history), what="done"
        )
        queues = await gui.client.queues()
        assert queues and all(q["paused"] for q in queues)
        console.tray.pause_action.trigger()  # unchecked: resume all
        await gui.until(
            lambda: any("Resumed all" in t for _, t in console.window.notices.history), what="resumed"
        )
        assert not any(q["paused"] for q in await gui.client.queues())

    gui.run(scenario())


def test_a_read_from_before_pause_all_does_not_undo_the_tray_check(gui: Harness, console: Console) -> None:
    """The CI failure: a refresh that read the queues while pause-all was running unchecked the
    action after it settled, so the next click paused again instead of resuming."""
    action = console.tray.pause_action

    async def scenario() -> None:
        before = time.monotonic()
        action.trigger()
        await gui.until(
            lambda: any("Paused all" in t for _, t in console.window.notices.history), what="paused"
        )
        console.window.queues_read.emit([{"name": "test", "paused": False}], before)
        assert action.isChecked()
        # A read that began after the pause settled is the truth again (someone resumed a queue).
        console.window.queues_read.emit([{"name": "test", "paused": False}], time.monotonic())
        assert not action.isChecked()

    gui.run(scenario())


def test_workers_tab_lists_workers_and_controls_the_local_ones(gui: Harness, console: Console) -> None:
    window = console.window
    view = window.workers_view
    control = gui.client.local_workers
    assert control is not None

    async def scenario() -> None:
        window.tabs.setCurrentIndex(3)
        await gui.until(lambda: view.model.rowCount() >= 1, what="workers listed")
        record = view.model.records[0]
        assert {"host", "pid", "queues", "threads", "currentJobs", "lastHeartbeat"} <= set(record)
        assert "running" in view.local_state.text()
        assert view.stop_button.isEnabled() and not view.start_button.isEnabled()
        view.stop_button.click()
        await gui.until(lambda: not control.running, timeout=30, what="local workers stopped")
        await gui.until(lambda: "stopped" in view.local_state.text(), what="the tab to say so")
        assert view.start_button.isEnabled()
        view.start_button.click()
        await gui.until(lambda: control.running, what="local workers started again")
        await gui.until(
            lambda: view.model.rowCount() >= 1 and "running" in view.local_state.text(), timeout=60
        )

    gui.run(scenario(), timeout=120)


def _queue(view, name: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    return next((r for r in view.model.records if r["name"] == name), {})


def test_tray_pause_state_follows_the_queues(gui: Harness, console: Console) -> None:
    window = console.window

    async def scenario() -> None:
        names = [q["name"] for q in await gui.client.queues()]
        try:
            for name in names:
                await gui.client.set_queue_paused(name, True)
            window.tabs.setCurrentIndex(2)
            await window.refresh_now()
            assert console.tray.pause_action.isChecked()
        finally:
            for name in names:
                await gui.client.set_queue_paused(name, False)
        await window.refresh_now()
        assert not console.tray.pause_action.isChecked()

    gui.run(scenario())
