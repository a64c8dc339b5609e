"""The notifications tab: per-job-type rules that announce a job's end; add or remove them.

A rule says: every job of this type (in this organization) that ends with
one of these events is announced on this channel to this target. The server
sends them (never a worker), at least once, with retries; a job's own
`notify` list works beside the rules.
"""

from __future__ import annotations

from typing import Any

from jobdesk.client.base import JobsClient
from jobdesk.ui import aio, resources
from jobdesk.ui.actions import Confirm, ask
from jobdesk.ui.models.records import Field, RecordsModel
from jobdesk.ui.models.system import ago
from jobdesk.ui.qt import Signal, widgets
from jobdesk.ui.widgets.records_table import fit_columns, records_table, selected_records

CHANNELS = ("email", "slack", "discord", "webhook")
EVENTS = ("completed", "failed")
PLACEHOLDERS = {
    "email": "ops@example.org",
    "slack": "https://hooks.slack.com/services/…",
    "discord": "https://discord.com/api/webhooks/…",
    "webhook": "https://example.org/jobdesk-hook",
}


def _enabled_colour(record: dict[str, Any]) -> Any:
    return resources.current().status_color("completed" if record.get("enabled") else "pending")


RULE_FIELDS = [
    Field("Job type", lambda r: str(r.get("jobType", ""))),
    Field("Channel", lambda r: str(r.get("channel", ""))),
    Field("Target", lambda r: str(r.get("target", ""))),
    Field("Events", lambda r: ", ".join(r.get("events") or [])),
    Field("Organization", lambda r: str(r.get("organizationId", ""))),
    Field("Enabled", lambda r: "enabled" if r.get("enabled") else "disabled", foreground=_enabled_colour),
    Field("Added", lambda r: ago(r.get("createdAt"))),
]


def describe_rule(rule: dict[str, Any]) -> str:
    events = " or ".join(rule.get("events") or EVENTS)
    return f"{rule.get('jobType')} jobs {events} → {rule.get('channel')} {rule.get('target')}"


class NotificationRulesView(widgets.QWidget):
    """Attributes:
        confirm: asked before a removal; tests replace it.
        type_box, channel_box, target_edit, event_boxes: the form that adds a rule.

    Signals:
        message(str, str): what an addition or removal did, and its kind.
    """

    message = Signal(str, str)

    def __init__(self, parent: widgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.client: JobsClient | None = None
        self.confirm: Confirm = ask(self)
        self.model = RecordsModel(RULE_FIELDS, "id", self)
        self.table = records_table(self.model, name="notificationRulesTable")
        fit_columns(self.table, stretch=2)  # the target (a URL) takes the rest
        self.type_box = widgets.QComboBox()
        self.type_box.setObjectName("ruleJobType")
        self.type_box.setMinimumContentsLength(16)
        self.channel_box = widgets.QComboBox()
        self.channel_box.setObjectName("ruleChannel")
        self.channel_box.addItems(list(CHANNELS))
        self.channel_box.currentTextChanged.connect(self.on_channel_box_current_text_changed)
        self.target_edit = widgets.QLineEdit()
        self.target_edit.setObjectName("ruleTarget")
        self.event_boxes = {e: widgets.QCheckBox(e) for e in EVENTS}
        for box in self.event_boxes.values():
            box.setChecked(True)
        self.add_button = resources.button("add", "Add rule")
        self.add_button.clicked.connect(self.on_add_button_clicked)
        self.remove_button = resources.button("cancel", "Remove")
        self.remove_button.clicked.connect(self.on_remove_button_clicked)
        self.on_channel_box_current_text_changed(self.channel_box.currentText())

        form = widgets.QHBoxLayout()
        form.addWidget(widgets.QLabel("When"))
        form.addWidget(self.type_box)
        form.addWidget(widgets.QLabel("jobs end"))
        for box in self.event_boxes.values():
            form.addWidget(box)
        form.addWidget(widgets.QLabel("tell"))
        form.addWidget(self.channel_box)
        form.addWidget(self.target_edit, 1)
        form.addWidget(self.add_button)
        form.addWidget(self.remove_button)
        note = widgets.QLabel(
            "The server announces the end of every job of the type, in the rule's organization, on the "
            "channel: an email address, or a Slack, Discord or webhook URL. Sends are retried with backoff "
            "and never slow a job down. Also `jobdesk notify add|remove`."
        )
        note.setWordWrap(True)
        layout = widgets.QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.table, 1)
        layout.addWidget(note)

    def set_types(self, types: list[str]) -> None:
        """The registered job types, the ones a rule can name."""
        current = self.type_box.currentText()
        self.type_box.clear()
        self.type_box.addItems(sorted(types))
        if current:
            self.type_box.setCurrentText(current)

    async def refresh(self, client: JobsClient) -> None:
        self.model.set_records(await client.notification_rules())

    def selected(self) -> list[dict[str, Any]]:
        return selected_records(self.table, self.model)

    def spec(self) -> dict[str, Any]:
        """The form as an add request."""
        return {
            "jobType": self.type_box.currentText(),
            "channel": self.channel_box.currentText(),
            "target": self.target_edit.text().strip(),
            "events": [e for e, box in self.event_boxes.items() if box.isChecked()],
        }

    async def add(self, spec: dict[str, Any]) -> dict[str, Any] | None:
        if self.client is None:
            return None
        if not spec.get("jobType"):
            self.message.emit("Choose the job type the rule is for", "failed")
            return None
        if not spec.get("target"):
            self.message.emit(f"Give the {spec.get('channel')} target to notify", "failed")
            return None
        if not spec.get("events"):
            self.message.emit("Choose completed, failed or both", "failed")
            return None
        rule = await self.client.add_notification_rule(spec)
        self.message.emit(f"Added: {describe_rule(rule)}", "info")
        self.target_edit.clear()
        await self.refresh(self.client)
        return rule

    async def remove(self, rules: list[dict[str, Any]]) -> None:
        if self.client is None or not rules:
            return
        for rule in rules:
            await self.client.remove_notification_rule(rule["id"])
        self.message.emit(f"Removed {len(rules)} notification rule{'' if len(rules) == 1 else 's'}", "info")
        await self.refresh(self.client)

    # -- slots ------------------------------------------------------------------------------------

    def on_channel_box_current_text_changed(self, channel: str) -> None:
        self.target_edit.setPlaceholderText(PLACEHOLDERS.get(channel, ""))

    def on_add_button_clicked(self) -> None:
        aio.spawn(self.add(self.spec()), context="adding the rule")

    def on_remove_button_clicked(self) -> None:
        chosen = self.selected()
        what = "\n".join(describe_rule(r) for r in chosen)
        if chosen and self.confirm("Remove notification rules", f"Remove these rules?\n{what}"):
            aio.spawn(self.remove(chosen), context="removing the rule")
