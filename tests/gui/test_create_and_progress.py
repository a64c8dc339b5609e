"""A job created in the dialog appears in the table, and its progress bar advances."""

from __future__ import annotations

from jobdesk.ui.console import Console
from jobdesk.ui.models.columns import INDEX
from jobdesk.ui.models.jobs import ProgressRole
from tests.gui.conftest import Harness


def test_created_job_appears_and_its_progress_advances(gui: Harness, console: Console) -> None:
    window = console.window
    window.tabs.setCurrentIndex(1)
    name = gui.unique("dialog-job")

    async def scenario() -> list[float]:
        dialog = await window._open_create_dialog()
        assert dialog is not None and dialog.isVisible()
        assert "test.sleep" in [t.type for t in dialog.types]
        dialog.select_type("test.sleep")
        dialog.name.setText(name)
        dialog.data.editor.setPlainText('{"seconds": 2.5, "steps": 25}')
        dialog.priority.setValue(5)
        job = await dialog.submit()
        assert job is not None and job.name == name and job.priority == 5
        assert not dialog.isVisible()

        model = window.model
        row = await gui.until(lambda: model.row_of(job.id) is not None, what="the job in the table")
        seen: list[float] = []

        def progress() -> float:
            at = model.row_of(job.id)
            assert at is not None
            value = model.index(at, INDEX["progress"]).data(ProgressRole)
            if value[0] not in seen:
                seen.append(value[0])
            return value[0]

        await gui.until(lambda: 0 < progress() < 100, what="progress to start")
        await gui.until(lambda: progress() == 100, timeout=30, what="the job to complete")
        # The delegate paints the bar: grabbing the table runs it over the visible rows.
        assert not window.jobs_view.table.grab().isNull()
        assert row is not None
        return seen

    seen = gui.run(scenario())
    # The bar moved through intermediate values, not from 0 to done in one jump.
    assert len([v for v in seen if 0 < v < 100]) >= 3, seen
    assert seen == sorted(seen)


def test_dialog_refuses_bad_json_and_bad_data(gui: Harness, console: Console) -> None:
    async def scenario() -> None:
        dialog = await console.window._open_create_dialog()
        assert dialog is not None
        dialog.select_type("test.sleep")
        dialog.data.editor.setPlainText('{"seconds": 1,,}')
        assert await dialog.submit() is None
        assert "line 1" in dialog.problem.text()
        assert not dialog.create_button.isEnabled()
        dialog.data.editor.setPlainText("[1, 2]")
        assert await dialog.submit() is None
        assert "JSON object" in dialog.problem.text()
        # Valid JSON that the type's schema refuses: caught before anything is sent.
        dialog.data.editor.setPlainText('{"seconds": "soon", "bogus": 1}')
        assert await dialog.submit() is None
        assert "seconds" in dialog.problem.text() and "bogus" in dialog.problem.text()
        assert dialog.isVisible()
        dialog.reject()

    gui.run(scenario())
