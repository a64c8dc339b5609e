"""The main window: tabs for the overview, jobs (table and detail), queues, workers, dead letters,
schedules, batches, rate limits and notification rules.

It lays the views out and wires them to each other; where jobs come from and
the window's lifetime belong to `console.Console`.
"""

from __future__ import annotations

import asyncio
import time

from jobdesk.client.base import JobsClient, JobType
from jobdesk.core.events import JobEvent
from jobdesk.ui import aio, resources
from jobdesk.ui.actions import JobActions
from jobdesk.ui.dialogs.create_job import CreateJobDialog
from jobdesk.ui.models.jobs import JobsTableModel
from jobdesk.ui.models.rows import JobRow
from jobdesk.ui.qt import Signal, core, gui, widgets
from jobdesk.ui.text import plain_label
from jobdesk.ui.widgets.batches import BatchesView
from jobdesk.ui.widgets.connection_page import ConnectionPage
from jobdesk.ui.widgets.dead_letters import DeadLettersView
from jobdesk.ui.widgets.job_detail import JobDetail
from jobdesk.ui.widgets.jobs_view import JobsView
from jobdesk.ui.widgets.notice_bar import NoticeBar
from jobdesk.ui.widgets.notification_rules import NotificationRulesView
from jobdesk.ui.widgets.overview import Overview
from jobdesk.ui.widgets.queues_view import QueuesView
from jobdesk.ui.widgets.rate_limits import RateLimitsView
from jobdesk.ui.widgets.schedules import SchedulesView
from jobdesk.ui.widgets.workers_view import WorkersView

# The visible tab is re-read this often; events make the overview refresh sooner.
REFRESH_MS = 2000
EVENT_REFRESH_MS = 500


class MainWindow(widgets.QMainWindow):
    """Attributes:
        client: what the window shows jobs from; None while connecting or after a failure.
        model: the jobs table's model.
        actions: the job actions (toolbar, menus, shortcuts).
        create_dialog: the new-job dialog while it is open.

    Signals:
        settings_requested(), reconnect_requested(), close_requested()
        queues_read(list, float): the queue records a refresh just read, and the monotonic time the
            read began (the tray's pause state follows them, unless a pause-all settled since).
    """

    settings_requested = Signal()
    reconnect_requested = Signal()
    close_requested = Signal()
    queues_read = Signal(object, float)

    def __init__(self, parent: widgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("jobdesk")
        self.setWindowIcon(resources.app_icon())
        self.resize(1280, 800)
        self.client: JobsClient | None = None
        self.create_dialog: CreateJobDialog | None = None
        self._types: list[JobType] = []
        self._refreshing = False
        self._again = False
        self._events_seen = 0

        self.model = JobsTableModel(None, self)
        self.jobs_view = JobsView(self.model)
        self.detail = JobDetail()
        self.job_actions = JobActions(self, self.selected_rows)
        self.jobs_view.add_actions(self.job_actions)
        self.overview = Overview()
        self.queues_view = QueuesView()
        self.workers_view = WorkersView()
        self.dead_letters_view = DeadLettersView()
        self.schedules_view = SchedulesView()
        self.batches_view = BatchesView()
        self.rate_limits_view = RateLimitsView()
        self.rules_view = NotificationRulesView()
        self.notices = NoticeBar()
        self.connection_page = ConnectionPage()

        # The table above, full width for its columns; the selected job's detail below.
        split = widgets.QSplitter(core.Qt.Orientation.Vertical)
        split.addWidget(self.jobs_view)
        split.addWidget(self.detail)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([480, 320])
        self.jobs_split = split
        self.tabs = widgets.QTabWidget()
        self.tabs.setObjectName("mainTabs")
        self.tabs.setDocumentMode(True)
        self.tab_views: list[widgets.QWidget] = [
            self.overview,
            split,
            self.queues_view,
            self.workers_view,
            self.dead_letters_view,
            self.schedules_view,
            self.batches_view,
            self.rate_limits_view,
            self.rules_view,
        ]
        names = (
            "Overview",
            "Jobs",
            "Queues",
            "Workers",
            "Dead letters",
            "Schedules",
            "Batches",
            "Rate limits",
            "Notifications",
        )
        for widget, name in zip(self.tab_views, names, strict=True):
            self.tabs.addTab(_padded(widget), resources.icon(_icon_name(name)), name)
        self.stack = widgets.QStackedWidget()
        self.stack.addWidget(self.connection_page)
        self.stack.addWidget(self.tabs)
        central = widgets.QWidget()
        layout = widgets.QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.notices)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)

        self._build_toolbar()
        self.endpoint_label = plain_label()
        self.workers_label = plain_label()
        self.events_label = plain_label()
        self.statusBar().addWidget(self.endpoint_label, 1)
        self.statusBar().addPermanentWidget(self.events_label)
        self.statusBar().addPermanentWidget(self.workers_label)

        self._tick = core.QTimer(self)
        self._tick.setInterval(REFRESH_MS)
        self._tick.timeout.connect(self.on_tick_timeout)
        self._soon = core.QTimer(self)
        self._soon.setSingleShot(True)
        self._soon.setInterval(EVENT_REFRESH_MS)
        self._soon.timeout.connect(self.on_tick_timeout)

        self.jobs_view.selection_changed.connect(self.job_actions.update_enabled)
        self.jobs_view.current_changed.connect(self.detail.show_job)
        self.detail.cancel_requested.connect(self.on_detail_cancel_requested)
        self.detail.retry_requested.connect(self.on_detail_retry_requested)
        self.job_actions.create_requested.connect(self.open_create_dialog)
        self.job_actions.refresh_requested.connect(self.on_actions_refresh_requested)
        self.job_actions.find_requested.connect(self.on_actions_find_requested)
        self.job_actions.message.connect(self.show_notice)
        self.queues_view.message.connect(self.show_notice)
        self.workers_view.message.connect(self.show_notice)
        self.dead_letters_view.message.connect(self.show_notice)
        self.schedules_view.message.connect(self.show_notice)
        for view in (self.batches_view, self.rate_limits_view, self.rules_view):
            view.message.connect(self.show_notice)
        self.batches_view.open_batch.connect(self.show_batch_jobs)
        self.detail.flow.batch_requested.connect(self.show_batch_jobs)
        self.model.failed.connect(self.on_model_failed)
        self.tabs.currentChanged.connect(self.on_tabs_current_changed)
        self.connection_page.settings_requested.connect(self.settings_requested)
        self.connection_page.retry_requested.connect(self.reconnect_requested)

    def _build_toolbar(self) -> None:
        bar = self.addToolBar("Jobs")
        bar.setObjectName("mainToolbar")
        bar.setMovable(False)
        bar.setToolButtonStyle(core.Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for action in (
            self.job_actions.create,
            self.job_actions.cancel,
            self.job_actions.retry,
            self.job_actions.copy_id,
        ):
            bar.addAction(action)
        bar.addSeparator()
        bar.addAction(self.job_actions.refresh)
        spacer = widgets.QWidget()
        spacer.setSizePolicy(widgets.QSizePolicy.Policy.Expanding, widgets.QSizePolicy.Policy.Preferred)
        bar.addWidget(spacer)
        self.settings_action = gui.QAction("Settings…", self)
        resources.set_icon(self.settings_action, "settings")
        self.settings_action.setShortcut(gui.QKeySequence(gui.QKeySequence.StandardKey.Preferences))
        if self.settings_action.shortcut().isEmpty():
            self.settings_action.setShortcut(gui.QKeySequence("Ctrl+,"))
        self.settings_action.triggered.connect(self.settings_requested)
        bar.addAction(self.settings_action)
        self.addAction(self.job_actions.find)
        # Alt+1..9 switch tabs, so the keyboard reaches every view.
        for i in range(len(self.tab_views)):
            switch = gui.QAction(self)
            switch.setShortcut(gui.QKeySequence(f"Alt+{i + 1}"))
            switch.triggered.connect(lambda _=False, i=i: self.tabs.setCurrentIndex(i))
            self.addAction(switch)

    # -- connection states ----------------------------------------------------------------------

    def show_connecting(self, where: str) -> None:
        self.set_client(None)
        self.connection_page.show_connecting(where)
        self.stack.setCurrentWidget(self.connection_page)

    def show_problem(self, message: str) -> None:
        self.set_client(None)
        self.connection_page.show_problem(message)
        self.stack.setCurrentWidget(self.connection_page)
        self.endpoint_label.setText("not connected")

    def set_client(self, client: JobsClient | None) -> None:
        self.client = client
        self._types = []
        for view in (self.detail, self.queues_view, self.workers_view):
            view.client = client
        for roadmap_view in (
            self.dead_letters_view,
            self.schedules_view,
            self.batches_view,
            self.rate_limits_view,
            self.rules_view,
        ):
            roadmap_view.client = client
        self.job_actions.set_client(client)
        self.model.set_client(client)
        self.detail.show_job(None)
        self.workers_view.show_local_state()
        if client is None:
            self._tick.stop()
            return
        self.stack.setCurrentWidget(self.tabs)
        self.endpoint_label.setText(client.endpoint)
        self.setWindowTitle(f"jobdesk \u2014 {client.endpoint}")
        self._tick.start()
        aio.spawn(self.refresh(), context="refreshing", quiet=True)
        aio.spawn(self._load_choices(), context="reading job types", quiet=True)

    async def _load_choices(self) -> None:
        if self.client is None:
            return
        self._types = await self.client.job_types()
        queues = sorted({t.queue for t in self._types})
        self.jobs_view.filters.set_choices([t.type for t in self._types], queues)
        self.rate_limits_view.set_types([t.type for t in self._types])
        self.rules_view.set_types([t.type for t in self._types])

    # -- live data ---------------------------------------------------------------------------------

    def on_jobs_changed(self, events: list[JobEvent]) -> None:
        self._events_seen += len(events)
        self.model.apply_events(events)
        self.detail.apply_events(events)
        if self.current_view() is self.batches_view:
            self.batches_view.apply_events(events)
        if self.current_view() in (self.overview, self.queues_view) and not self._soon.isActive():
            self._soon.start()

    def on_batch_completed(self, batch_id: str) -> None:
        if self.current_view() is self.batches_view:
            self.batches_view.on_batch_completed(batch_id)

    def on_resync_needed(self) -> None:
        """Events may have been missed (the server or its listener reconnected): re-read what is shown."""
        self.model.reload()
        if self.detail.job is not None:
            self.detail.show_job(self.detail.job.id)
        aio.spawn(self.refresh(), context="refreshing", quiet=True)

    def current_view(self) -> widgets.QWidget | None:
        index = self.tabs.currentIndex()
        return self.tab_views[index] if 0 <= index < len(self.tab_views) else None

    def on_tick_timeout(self) -> None:
        rate = self._events_seen / (REFRESH_MS / 1000)
        self._events_seen = 0
        self.events_label.setText(f"{rate:,.0f} event{'' if round(rate) == 1 else 's'}/s")
        if not self._refreshing:
            aio.spawn(self.refresh(), context="refreshing", quiet=True)

    async def refresh(self) -> None:
        """Re-read what the visible tab shows, plus the status bar's workers count.

        One refresh at a time; asked again meanwhile (the operator switched tabs), it runs
        once more when the current one ends, for whatever tab is visible then.
        """
        if self.client is None:
            return
        if self._refreshing:
            self._again = True
            return
        self._refreshing = True
        try:
            while True:
                self._again = False
                await self._refresh_visible()
                if not self._again or self.client is None:
                    break
        finally:
            self._refreshing = False

    async def refresh_now(self) -> None:
        """Refresh, and return once the visible tab shows what was read after this call."""
        await self.refresh()
        while self._refreshing:
            await asyncio.sleep(0.02)

    async def _refresh_visible(self) -> None:
        client = self.client
        if client is None:
            return
        view = self.current_view()
        began = time.monotonic()
        if view is self.overview:
            await self.overview.refresh(client)
            workers = self.overview.workers.records
            self.queues_read.emit(self.overview.queues.records, began)
        elif view is self.queues_view:
            await self.queues_view.refresh(client)
            workers = await client.workers()
            self.queues_read.emit(self.queues_view.model.records, began)
        elif view is self.workers_view:
            await self.workers_view.refresh(client)
            workers = self.workers_view.model.records
        elif view is self.dead_letters_view:
            await self.dead_letters_view.refresh(client)
            workers = await client.workers()
        elif view is self.schedules_view:
            await self.schedules_view.refresh(client)
            workers = await client.workers()
        elif view in (self.batches_view, self.rate_limits_view, self.rules_view):
            await view.refresh(client)
            workers = await client.workers()
        else:
            workers = await client.workers()
        self.workers_label.setText(f"{len(workers)} workers online")

    # -- actions -----------------------------------------------------------------------------------

    def selected_rows(self) -> list[JobRow]:
        return self.jobs_view.selected_rows()

    def open_create_dialog(self) -> None:
        if self.client is not None:
            aio.spawn(self._open_create_dialog(), context="opening the new-job dialog")

    async def _open_create_dialog(self) -> CreateJobDialog | None:
        if self.client is None:
            return None
        if not self._types:
            self._types = await self.client.job_types()
        dialog = CreateJobDialog(self.client, self._types, self)
        dialog.created.connect(self.on_dialog_created)
        dialog.finished.connect(dialog.deleteLater)
        self.create_dialog = dialog
        dialog.open()
        return dialog

    def on_dialog_created(self, job: object) -> None:
        name = getattr(job, "name", "")
        self.show_notice(f"Created job {name} ({getattr(job, 'id', '')[:8]})", "info")

    def on_detail_cancel_requested(self, job_id: str) -> None:
        if self.client is not None:
            aio.spawn(self.job_actions.cancel_jobs([job_id]), context="cancel")

    def on_detail_retry_requested(self, job_id: str) -> None:
        if self.client is not None:
            aio.spawn(self.job_actions.retry_jobs([job_id]), context="retry")

    def on_actions_refresh_requested(self) -> None:
        self.model.reload()
        self.detail.show_job(self.detail.job.id if self.detail.job else None)
        aio.spawn(self.refresh(), context="refreshing")

    def show_batch_jobs(self, batch_id: str) -> None:
        """List one batch's jobs in the Jobs tab (the filter bar's chip clears it)."""
        self.jobs_view.filters.set_batch(batch_id)
        self.tabs.setCurrentIndex(self.tab_views.index(self.jobs_split))

    def on_actions_find_requested(self) -> None:
        self.tabs.setCurrentIndex(1)
        self.jobs_view.filters.focus_search()

    def on_tabs_current_changed(self, _index: int) -> None:
        aio.spawn(self.refresh(), context="refreshing", quiet=True)

    def on_model_failed(self, message: str) -> None:
        self.show_notice(f"Could not load jobs: {message}", "failed")

    def show_notice(self, text: str, kind: str = "info") -> None:
        self.notices.show_notice(text, kind)

    def apply_theme(self) -> None:
        for i in range(self.tabs.count()):
            self.tabs.setTabIcon(i, resources.icon(_icon_name(self.tabs.tabText(i))))
        self.overview.apply_theme()
        self.jobs_view.table.viewport().update()

    # -- closing -------------------------------------------------------------------------------------

    def closeEvent(self, event: gui.QCloseEvent) -> None:
        # The console decides: hide to the tray, or shut down (asynchronously) and then quit.
        event.ignore()
        self.close_requested.emit()


def _icon_name(tab: str) -> str:
    return tab.lower().replace(" ", "-")


def _padded(view: widgets.QWidget) -> widgets.QWidget:
    page = widgets.QWidget()
    layout = widgets.QVBoxLayout(page)
    layout.setContentsMargins(10, 10, 10, 10)
    layout.addWidget(view)
    return page
