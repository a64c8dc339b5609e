"""The table model on its own: paging, coalescing events per frame, inserting new jobs in order."""

from __future__ import annotations

import asyncio

from jobdesk.client.base import JobQuery
from jobdesk.core.events import EventName, JobEvent
from jobdesk.core.jobs import JobStatus, Progress
from jobdesk.ui.models.columns import INDEX
from jobdesk.ui.models.jobs import FRAME_MS, PAGE, JobsTableModel, ProgressRole
from tests.gui.conftest import Harness
from tests.gui.fakes import FakeClient, advanced, make_job


def _model(gui: Harness, count: int) -> tuple[JobsTableModel, FakeClient]:
    client = FakeClient([make_job(n) for n in range(count)])
    model = JobsTableModel(client)
    gui.run(model.load())
    return model, client


def test_first_page_only_then_more_on_request(gui: Harness) -> None:
    model, client = _model(gui, 1000)
    assert (model.rowCount(), model.total) == (PAGE, 1000)
    assert client.list_calls[-1][1:] == (PAGE, 0)
    model.fetchMore()

    async def more() -> None:
        while model.rowCount() < 2 * PAGE:
            await asyncio.sleep(0.01)

    gui.run(more())
    assert client.list_calls[-1][1:] == (PAGE, PAGE)


def test_a_thousand_events_for_ten_rows_make_one_frame_of_updates(gui: Harness) -> None:
    model, _ = _model(gui, 50)
    changed: list[tuple[int, int]] = []
    resets: list[int] = []
    model.dataChanged.connect(lambda a, b, *_: changed.append((a.row(), b.row())))
    model.modelReset.connect(lambda: resets.append(1))
    rows = [model.row_at(i) for i in range(10)]
    jobs = {r.id: make_job(49 - i) for i, r in enumerate(rows)}  # type: ignore[union-attr]
    events = []
    for step in range(1, 101):
        for job in jobs.values():
            later = advanced(job, step, status=JobStatus.ACTIVE, progress=Progress(step, 100, f"step {step}"))
            events.append(JobEvent(EventName.UPDATE, later))
    model.apply_events(events[:500])
    model.apply_events(events[500:])

    async def frame() -> None:
        await asyncio.sleep(3 * FRAME_MS / 1000)

    changed.clear()  # the clock's once-a-second signal is not what this is about
    gui.run(frame())
    row_changes = [c for c in changed if c != (0, model.rowCount() - 1)]
    # Rows 0-9 are adjacent: one signal covers them all, and nothing reloaded.
    assert row_changes == [(0, 9)] and not resets
    assert model.flushes == 1
    for i in range(10):
        assert model.index(i, INDEX["progress"]).data(ProgressRole)[0] == 100.0


def test_new_jobs_insert_at_the_top_in_one_frame(gui: Harness) -> None:
    model, _ = _model(gui, 300)
    inserted: list[tuple[int, int]] = []
    model.rowsInserted.connect(lambda _p, first, last: inserted.append((first, last)))
    new = [make_job(1000 + i) for i in range(3)]
    model.apply_events([JobEvent(EventName.CREATED, j) for j in new])

    gui.run(asyncio.sleep(3 * FRAME_MS / 1000))
    assert [model.row_at(i).id for i in range(3)] == [j.id for j in reversed(new)]  # type: ignore[union-attr]
    assert model.total == 303 and model.rowCount() == PAGE + 3
    assert len(inserted) == 3 and all(first == last for first, last in inserted)


def test_new_jobs_that_do_not_match_the_filter_stay_out(gui: Harness) -> None:
    client = FakeClient([make_job(n, status=JobStatus.FAILED) for n in range(5)])
    model = JobsTableModel(client)
    model.query = JobQuery(status="failed")
    gui.run(model.load())
    model.apply_events([JobEvent(EventName.CREATED, make_job(99))])  # pending: not failed
    gui.run(asyncio.sleep(3 * FRAME_MS / 1000))
    assert model.rowCount() == 5 and model.total == 5


def test_an_older_event_never_overwrites_a_newer_row(gui: Harness) -> None:
    model, _ = _model(gui, 5)
    row = model.row_at(0)
    assert row is not None
    job = make_job(4)
    newer = advanced(job, 10, status=JobStatus.COMPLETED)
    older = advanced(job, 5, status=JobStatus.ACTIVE)
    model.apply_events([JobEvent(EventName.COMPLETED, newer)])
    gui.run(asyncio.sleep(3 * FRAME_MS / 1000))
    model.apply_events([JobEvent(EventName.UPDATE, older)])
    gui.run(asyncio.sleep(3 * FRAME_MS / 1000))
    assert model.row_at(0).status == "completed"  # type: ignore[union-attr]
