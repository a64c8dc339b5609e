"""One subscription to the client's events, re-emitted as a Qt signal.

Every live part of the window (the jobs table, the detail pane, the
notifier, the overview) connects to this router instead of subscribing to
the client itself, so reconnecting to another server rewires one object.
"""

from __future__ import annotations

from collections.abc import Callable

from jobdesk.client.base import JobsClient
from jobdesk.core.events import JobEvent
from jobdesk.ui.qt import Signal, core


class EventRouter(core.QObject):
    """Signals:
    jobs_changed(list[JobEvent]): a batch of job events, in commit order.
    resync_needed(): events may have been missed; views should re-read what they show.
    batch_completed(str): every job of this batch has finished.
    """

    jobs_changed = Signal(object)
    resync_needed = Signal()
    batch_completed = Signal(str)

    def __init__(self, parent: core.QObject | None = None) -> None:
        super().__init__(parent)
        self._unsubscribe: Callable[[], None] | None = None
        self._client: JobsClient | None = None
        self.received = 0

    def attach(self, client: JobsClient) -> None:
        self.detach()
        self._unsubscribe = client.subscribe(self._on_batch)
        self._client = client
        client.on_resync(lambda: self._on_resync(client))
        client.on_batch_completed(lambda batch_id: self._on_batch_completed(client, batch_id))

    def detach(self) -> None:
        self._client = None
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _on_batch(self, events: list[JobEvent]) -> None:
        if events:
            self.received += len(events)
            self.jobs_changed.emit(events)

    def _on_resync(self, client: JobsClient) -> None:
        # A resync hook cannot be removed: one from a client no longer attached is ignored.
        if client is self._client:
            self.resync_needed.emit()

    def _on_batch_completed(self, client: JobsClient, batch_id: str) -> None:
        if client is self._client:
            self.batch_completed.emit(batch_id)
