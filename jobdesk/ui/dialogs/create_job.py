"""The new-job dialog: a registered type, a name, JSON data checked before sending, priority, attempts."""

from __future__ import annotations

from typing import Any

from jobdesk.client.base import JobsClient, JobType
from jobdesk.core.jobs import MAX_ATTEMPTS_LIMIT, PRIORITY_MAX, PRIORITY_MIN, Job
from jobdesk.ui import aio, resources
from jobdesk.ui.dialogs.json_editor import JsonEditor
from jobdesk.ui.qt import Signal, core, widgets
from jobdesk.ui.text import plain_label


class CreateJobDialog(widgets.QDialog):
    """Attributes:
        types: the job types offered.
        created_job: the job made, once the dialog succeeded.

    Signals:
        created(Job): the server accepted the job.
    """

    created = Signal(object)

    def __init__(
        self, client: JobsClient, types: list[JobType], parent: widgets.QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("New job")
        self.setWindowIcon(resources.icon("add"))
        self.setMinimumSize(560, 520)
        self.client = client
        self.types = types
        self.created_job: Job | None = None
        self._busy = False

        self.type_box = widgets.QComboBox()
        self.type_box.setObjectName("jobType")
        for t in types:
            self.type_box.addItem(t.type, t.type)
        self.description = plain_label()
        self.description.setWordWrap(True)
        self.name = widgets.QLineEdit()
        self.name.setPlaceholderText("(defaults to the type)")
        self.data = JsonEditor()
        self.priority = widgets.QSpinBox()
        self.priority.setRange(PRIORITY_MIN, PRIORITY_MAX)
        self.priority.setToolTip("Higher runs first")
        self.max_attempts = widgets.QSpinBox()
        self.max_attempts.setRange(1, MAX_ATTEMPTS_LIMIT)
        self.problem = plain_label("", "validation")
        self.problem.setWordWrap(True)
        self.buttons = widgets.QDialogButtonBox(
            widgets.QDialogButtonBox.StandardButton.Ok | widgets.QDialogButtonBox.StandardButton.Cancel
        )
        self.create_button = self.buttons.button(widgets.QDialogButtonBox.StandardButton.Ok)
        self.create_button.setText("Create")
        self.buttons.accepted.connect(self.on_buttons_accepted)
        self.buttons.rejected.connect(self.reject)

        form = widgets.QFormLayout()
        form.addRow("Type", self.type_box)
        form.addRow("", self.description)
        form.addRow("Name", self.name)
        numbers = widgets.QHBoxLayout()
        numbers.addWidget(self.priority)
        numbers.addSpacing(16)
        numbers.addWidget(widgets.QLabel("Max attempts"))
        numbers.addWidget(self.max_attempts)
        numbers.addStretch(1)
        form.addRow("Priority", numbers)
        layout = widgets.QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(widgets.QLabel("Data (JSON)"))
        layout.addWidget(self.data, 1)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)

        self.type_box.currentIndexChanged.connect(self.on_type_box_current_index_changed)
        self.data.validity_changed.connect(self.on_data_validity_changed)
        self.on_type_box_current_index_changed(self.type_box.currentIndex())

    def chosen_type(self) -> JobType | None:
        index = self.type_box.currentIndex()
        return self.types[index] if 0 <= index < len(self.types) else None

    def select_type(self, job_type: str) -> None:
        self.type_box.setCurrentIndex(max(0, self.type_box.findData(job_type)))

    def on_type_box_current_index_changed(self, _index: int) -> None:
        chosen = self.chosen_type()
        if chosen is None:
            return
        self.description.setText(f"{chosen.description or 'No description.'}  Queue: {chosen.queue}.")
        self.max_attempts.setValue(chosen.max_attempts)
        self.data.set_value(chosen.example)
        self.problem.setText("")

    def on_data_validity_changed(self, valid: bool) -> None:
        self.create_button.setEnabled(valid and not self._busy)

    def spec(self) -> dict[str, Any] | None:
        """The create request, or None (with the reason shown) if the JSON is not an object."""
        chosen = self.chosen_type()
        if chosen is None or not self.data.check() or self.data.value is None:
            return None
        spec: dict[str, Any] = {
            "type": chosen.type,
            "data": self.data.value,
            "priority": self.priority.value(),
            "maxAttempts": self.max_attempts.value(),
        }
        if self.name.text().strip():
            spec["name"] = self.name.text().strip()
        return spec

    def on_buttons_accepted(self) -> None:
        if not self._busy:
            aio.spawn(self.submit(), context="creating the job")

    async def submit(self) -> Job | None:
        """Validate, then create; on success emit `created` and close, else say why and stay open."""
        spec = self.spec()
        if spec is None:
            self.problem.setText(self.data.error)
            return None
        self._set_busy(True)
        try:
            await self.client.validate_job(spec)
            job = await self.client.create_job(spec)
        except Exception as exc:
            self.problem.setText(aio.describe_error(exc))
            return None
        finally:
            self._set_busy(False)
        self.created_job = job
        self.created.emit(job)
        self.accept()
        return job

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.create_button.setEnabled(not busy and self.data.value is not None)
        self.setCursor(core.Qt.CursorShape.BusyCursor if busy else core.Qt.CursorShape.ArrowCursor)
