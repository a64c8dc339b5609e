"""The window's own behaviour: plain text for job-supplied strings, closing, themes, the detail pane."""

from __future__ import annotations

from dataclasses import replace

from jobdesk.core.jobs import JobStatus
from jobdesk.ui import resources
from jobdesk.ui.console import Console
from jobdesk.ui.models.jobs import JobIdRole
from jobdesk.ui.qt import core, widgets
from jobdesk.ui.widgets.job_detail import JobDetail, timeline
from tests.gui.conftest import Harness
from tests.gui.fakes import make_job

HTML = "<b>bold</b><img src='x'>"


def test_job_text_is_never_rendered_as_html(gui: Harness) -> None:
    detail = JobDetail()
    job = make_job(
        1,
        name=HTML,
        status=JobStatus.FAILED,
        error={"message": "<script>alert(1)</script>", "stack": "Traceback\n<html>"},
    )
    detail.set_job(job)
    assert detail.title.textFormat() == core.Qt.TextFormat.PlainText and detail.title.text() == HTML
    assert detail.error_message.textFormat() == core.Qt.TextFormat.PlainText
    assert detail.error_stack.toPlainText() == "Traceback\n<html>"
    assert isinstance(detail.error_stack, widgets.QPlainTextEdit)


def test_timeline_lists_creation_attempts_and_the_finish(gui: Harness) -> None:
    job = make_job(1, status=JobStatus.FAILED, attempts=2, max_attempts=2)
    t = job.created_at.isoformat()
    job.attempt_log = [
        {"attempt": 1, "worker": "w1", "startedAt": t, "endedAt": t, "outcome": "retry", "error": "boom"},
        {"attempt": 2, "worker": "w2", "startedAt": t, "endedAt": t, "outcome": "failed", "error": "boom"},
    ]
    job.completed_at = job.created_at
    events = [what for _, what in timeline(job)]
    assert events == [
        "created",
        "attempt 1 started on w1",
        "attempt 1 retry: boom",
        "attempt 2 started on w2",
        "attempt 2 failed: boom",
        "finished: failed",
    ]


def test_detail_follows_the_selected_job_live(gui: Harness, console: Console) -> None:
    window = console.window
    window.tabs.setCurrentIndex(1)

    async def scenario() -> None:
        job = await gui.client.create_job(
            {"type": "test.sleep", "name": gui.unique("detail"), "data": {"seconds": 2, "steps": 20}}
        )
        await gui.until(lambda: window.model.row_of(job.id) is not None, what="the row")
        row = window.model.row_of(job.id)
        assert row is not None
        window.jobs_view.table.setCurrentIndex(window.model.index(row, 0))
        assert window.model.index(row, 0).data(JobIdRole) == job.id
        await gui.until(
            lambda: window.detail.job is not None and window.detail.job.id == job.id, what="shown"
        )
        seen = set()

        def progressed() -> bool:
            seen.add(window.detail.progress.value())
            return window.detail.job is not None and window.detail.job.status == JobStatus.COMPLETED

        await gui.until(progressed, timeout=30, what="completion in the pane")
        assert len({v for v in seen if 0 < v < 1000}) >= 2  # it moved while running
        assert window.detail.progress.value() == 1000
        assert '"steps": 20' in window.detail.data_text.toPlainText()
        assert '"steps": 20' in window.detail.result_text.toPlainText()
        assert window.detail.timeline.topLevelItemCount() >= 3

    gui.run(scenario())


def test_closing_without_a_tray_quits(gui: Harness, console: Console) -> None:
    assert not console.tray.available
    console.window.close()
    gui.run(console.wait_closed(), timeout=5)


def test_switching_theme_restyles_without_restart(gui: Harness, console: Console) -> None:
    console.on_settings_saved(replace(console.prefs, theme="dark"))
    assert resources.current().name == "dark"
    assert console.store.load().theme == "dark"
    base = console.app.palette().color(console.app.palette().ColorRole.Base)
    assert base.lightness() < 60
    console.on_settings_saved(replace(console.prefs, theme="light"))
    assert resources.current().name == "light"


def test_alt_number_keys_switch_tabs(gui: Harness, console: Console) -> None:
    window = console.window
    shortcuts = {a.shortcut().toString(): a for a in window.actions() if not a.shortcut().isEmpty()}
    for i in range(4):
        shortcuts[f"Alt+{i + 1}"].trigger()
        assert window.tabs.currentIndex() == i
