"""Completion and failure raise a notification: in the window here, since offscreen has no tray."""

from __future__ import annotations

from dataclasses import replace

from jobdesk.ui.console import Console
from jobdesk.ui.qt import widgets
from tests.gui.conftest import Harness


def test_no_tray_offscreen_so_notifications_go_to_the_window(console: Console) -> None:
    assert widgets.QSystemTrayIcon.isSystemTrayAvailable() is False
    assert console.tray.available is False and console.tray.icon is None


def test_completion_raises_a_notification(gui: Harness, console: Console) -> None:
    name = gui.unique("notify-done")
    heard: list[tuple[str, str, str]] = []
    console.notifier.notified.connect(lambda *args: heard.append(args))

    async def scenario() -> None:
        await gui.client.create_job({"type": "test.noop", "name": name})
        await gui.until(lambda: any(name in text for _, text, _ in heard), what="a notification")
        await gui.until(
            lambda: any(name in text for _, text in console.window.notices.history), what="the notice"
        )

    gui.run(scenario())
    title, _, kind = next(h for h in heard if name in h[1])
    assert (title, kind) == ("Job completed", "completed")
    notice = console.window.notices.notices()[0]
    assert name in notice.text and notice.kind == "completed" and notice.isVisible()


def test_the_setting_chooses_which_endings_notify(gui: Harness, console: Console) -> None:
    console.prefs = replace(console.prefs, notify_on="failed")
    done, failed = gui.unique("quiet-done"), gui.unique("loud-failed")

    async def scenario() -> None:
        await gui.client.create_job({"type": "test.noop", "name": done})
        await gui.client.create_job({"type": "test.fail", "name": failed, "maxAttempts": 1})
        await gui.until(
            lambda: any(failed in text for _, text in console.window.notices.history),
            what="the failure notice",
        )
        job_done = await gui.until(lambda: _finished(console, done), what="the other job to complete")
        assert job_done

    gui.run(scenario())
    texts = [text for _, text in console.window.notices.history]
    assert not any(done in t for t in texts)
    failure = next(t for t in texts if failed in t)
    assert "failure on attempt 1" in failure


def _finished(console: Console, name: str) -> bool:
    model = console.window.model
    return any(
        (row := model.row_at(i)) is not None and row.name == name and row.status == "completed"
        for i in range(model.rowCount())
    )
