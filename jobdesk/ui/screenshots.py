"""`python -m jobdesk.ui.screenshots OUT_DIR`: each view rendered offscreen, with live jobs, as PNG files.

It runs the real console against a throwaway installation (by default
`jobdesk.showcase:ScratchConnector`: its own database, Redis namespace and
data directory, removed afterwards), submits the built-in job types' samples
through the client as an operator would, lets the local workers run them
into every state, and grabs the window. Batches come from the connector's
`create_batch(client, user, specs)` when it has one (API users make them; the
console does not), then rate limits hold a batch back and notification rules
are added, for the Batches, Rate limits and Notifications tabs.

The connector is named, not imported: the ui reaches jobs only through a
client, and the composition that builds one lives outside it.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from jobdesk.client.base import JobsClient
from jobdesk.core.jobs import Job
from jobdesk.ui import resources
from jobdesk.ui.console import Console
from jobdesk.ui.prefs import PrefsStore
from jobdesk.ui.qt import QEventLoop, core, widgets

DEFAULT_CONNECTOR = "jobdesk.showcase:ScratchConnector"
SIZE = (1440, 900)

TRANSFORMS = [
    {"op": "strip", "fields": ["name"]},
    {"op": "uppercase", "fields": ["country"]},
    {"op": "filter", "field": "country", "in": ["UK", "US"]},
]
CUSTOMERS = "examples/data/customers.csv"
# Two steps as child jobs: clean the customer rows, then convert them.
WORKFLOW = {
    "steps": [
        {
            "id": "clean",
            "type": "bulk-operation",
            "data": {
                "operation": "transform",
                "inputPath": CUSTOMERS,
                "outputPath": "examples/out/wf/customers-clean.csv",
                "transforms": [{"op": "strip", "fields": ["name"]}],
            },
        },
        {
            "id": "to-json",
            "type": "data-conversion",
            "dependsOn": ["clean"],
            "data": {"inputPath": "examples/out/wf/customers-clean.csv", "outputFormat": "json"},
        },
    ]
}
# The weekly batch's training in flight beside the scene's long one fills this
# limit, so the sweep batch submitted after it waits, and its queue says why.
TRAINING_AT_ONCE = 2
LIMITS: list[dict[str, Any]] = [
    {"scope": "type", "key": "model-training", "max_concurrent": TRAINING_AT_ONCE},
    {"scope": "type", "key": "data-conversion", "per_second": 5},
    {"scope": "organization", "key": "default", "per_second": 50, "max_concurrent": 24},
]
# For job types none of whose jobs end while the tabs are shot, so nothing is sent.
RULES: list[dict[str, Any]] = [
    {
        "jobType": "model-training",
        "channel": "email",
        "target": "ml-team@example.org",
        "events": ["completed", "failed"],
    },
    {
        "jobType": "workflow-execution",
        "channel": "slack",
        "target": "https://hooks.slack.com/services/T04EXAMPLE/B06PIPELINE/data-eng-alerts",
        "events": ["failed"],
    },
    {
        "jobType": "fine-tuning",
        "channel": "discord",
        "target": "https://discord.com/api/webhooks/1190000000000000000/ml-releases",
        "events": ["completed"],
    },
    {
        "jobType": "data-conversion",
        "channel": "webhook",
        "target": "https://etl.example.org/hooks/jobdesk",
        "events": ["failed"],
        "enabled": False,
    },
]

# Creates a batch for a user: (user, specs) -> its jobs, in order.
BatchMaker = Callable[[str, list[dict[str, Any]]], Awaitable[list[Job]]]


def load(spec: str) -> Callable[[], Any]:
    module, _, name = spec.partition(":")
    factory: Callable[[], Any] = getattr(importlib.import_module(module), name)
    return factory


class Scene:
    """The jobs an operator's afternoon might hold, submitted through the client."""

    def __init__(self, client: JobsClient, batch: BatchMaker | None = None) -> None:
        self.client = client
        self.batch = batch
        self.jobs: dict[str, Job] = {}

    async def create(self, key: str, spec: dict[str, Any]) -> Job:
        job = await self.client.create_job(spec)
        self.jobs[key] = job
        return job

    async def create_batch(self, user: str, specs: dict[str, dict[str, Any]]) -> None:
        """`specs` by key, created together as one batch of `user`'s (nothing without a batch maker)."""
        if self.batch is None:
            return
        jobs = await self.batch(user, list(specs.values()))
        self.jobs.update(zip(specs, jobs, strict=True))

    async def submit(self) -> None:
        c = self.create
        # Held: a paused queue keeps its jobs pending.
        await self.client.set_queue_paused("bulk-operation", True)
        await c(
            "convert",
            _spec(
                "data-conversion",
                "Customers CSV to JSON Lines",
                {
                    "inputPath": CUSTOMERS,
                    "outputPath": "examples/out/customers.jsonl",
                    "options": {"rename": {"lifetimeValue": "ltv"}, "progressBy": "rows"},
                },
            ),
        )
        await c(
            "missing",
            _spec(
                "data-conversion",
                "Convert orders-2026-12-01.csv",
                {
                    "inputPath": "exports/orders-2026-12-01.csv",
                    "outputFormat": "jsonl",
                },
                priority=5,
                maxAttempts=3,
            ),
        )
        train = await c(
            "train",
            _spec(
                "model-training",
                "Train churn model v32",
                {
                    "inputPath": "examples/data/churn.csv",
                    "target": "churn",
                    "features": ["tenure", "monthly", "calls", "plan"],
                    "epochs": 20,
                    "modelPath": "examples/out/churn-model.joblib",
                },
            ),
        )
        await c(
            "fine",
            _spec(
                "fine-tuning",
                "Fine-tune churn model on 2026 data",
                {
                    "modelPath": "examples/out/churn-model.joblib",
                    "inputPath": "examples/data/churn-2026.csv",
                    "outputPath": "examples/out/churn-model-2026.joblib",
                    "epochs": 5,
                },
                dependsOn=[train.id],
            ),
        )
        await c("docs", _spec("document-processing", "Index support docs", {"paths": ["examples/data/docs"]}))
        await c(
            "long",
            _spec(
                "model-training",
                "Train churn model, 1000 epochs",
                {
                    "inputPath": "examples/data/churn.csv",
                    "target": "churn",
                    "epochs": 1000,
                    "batchSize": 8,
                    "modelPath": "examples/out/churn-long.joblib",
                },
                priority=2,
            ),
        )
        await c(
            "doomed",
            _spec(
                "model-training",
                "Train churn model, learning-rate sweep",
                {
                    "inputPath": "examples/data/churn.csv",
                    "target": "churn",
                    "epochs": 1000,
                    "batchSize": 8,
                    "modelPath": "examples/out/churn-sweep.joblib",
                },
            ),
        )
        await c(
            "normalize",
            _spec(
                "bulk-operation",
                "Normalize UK/US customer rows",
                {
                    "operation": "transform",
                    "inputPath": CUSTOMERS,
                    "outputPath": "examples/out/uk-us.jsonl",
                    "batchSize": 100,
                    "transforms": TRANSFORMS,
                },
            ),
        )
        await c(
            "requeue",
            _spec(
                "bulk-operation",
                "Retry yesterday's failed conversions",
                {
                    "operation": "retry",
                    "filter": {"type": "data-conversion", "status": "failed"},
                    "dryRun": True,
                },
                priority=-5,
            ),
        )
        await c("pipeline", _spec("workflow-execution", "Nightly customer pipeline", WORKFLOW))
        await c(
            "convert-json",
            _spec(
                "data-conversion",
                "Customers CSV to JSON",
                {
                    "inputPath": CUSTOMERS,
                    "outputPath": "examples/out/customers.json",
                },
            ),
        )
        # Batches: one that finishes, one still running with a training in flight and a
        # step held by the paused queue (the sweep comes later, in hold_back()).
        await self.create_batch(
            "maria",
            {
                f"export-{name}": _spec(
                    "data-conversion",
                    f"Export {name}.csv to JSON Lines",
                    {
                        "inputPath": f"examples/data/{name}.csv",
                        "outputPath": f"examples/out/exports/{name}.jsonl",
                    },
                )
                for name in ("customers", "churn", "churn-2026")
            },
        )
        await self.create_batch(
            "ops-bot",
            {
                "weekly-docs": _spec(
                    "document-processing",
                    "Weekly refresh: index support docs",
                    {"paths": ["examples/data/docs"]},
                ),
                "weekly-convert": _spec(
                    "data-conversion",
                    "Weekly refresh: customers to JSON Lines",
                    {"inputPath": CUSTOMERS, "outputPath": "examples/out/weekly/customers.jsonl"},
                ),
                "weekly-train": _spec(
                    "model-training",
                    "Weekly refresh: train churn model",
                    {
                        "inputPath": "examples/data/churn.csv",
                        "target": "churn",
                        "epochs": 1000,
                        "batchSize": 8,
                        "modelPath": "examples/out/weekly/churn.joblib",
                    },
                    priority=1,
                ),
                "weekly-normalize": _spec(
                    "bulk-operation",
                    "Weekly refresh: normalize customer rows",
                    {
                        "operation": "transform",
                        "inputPath": CUSTOMERS,
                        "outputPath": "examples/out/weekly/uk-us.jsonl",
                        "transforms": TRANSFORMS,
                    },
                ),
            },
        )

    async def settle(self, timeout: float = 90) -> None:
        """Until the scene shows every state: done, failed after retries, cancelled, running, held."""
        deadline = time.monotonic() + timeout
        cancelled = False
        while time.monotonic() < deadline:
            now = {k: await self.client.get_job(j.id) for k, j in self.jobs.items()}
            if not cancelled and now["doomed"].status.value == "active":
                await self.client.cancel_job(now["doomed"].id)
                cancelled = True
            long_run = now["long"]
            if (
                now["missing"].status.value == "failed"
                and now["fine"].status.is_terminal
                and now["doomed"].status.value == "cancelled"
                and long_run.status.value == "active"
                and long_run.progress.percentage >= 12
                and self._batches_settled(now)
            ):
                return
            await asyncio.sleep(0.25)
        raise TimeoutError("the scene did not settle; is a worker running?")

    def _batches_settled(self, now: dict[str, Job]) -> bool:
        """The exports batch finished; the weekly one has its quick jobs done and its training under way."""
        if self.batch is None:
            return True
        finished = [
            j for k, j in now.items() if k.startswith("export-") or k in ("weekly-docs", "weekly-convert")
        ]
        train = now["weekly-train"]
        return (
            all(j.status.is_terminal for j in finished)
            and train.status.value == "active"
            and train.progress.percentage >= 5
        )

    async def hold_back(self, timeout: float = 20) -> None:
        """Rate limits, and a sweep batch that the training limit holds back until the queue says so."""
        for limit in LIMITS:
            await self.client.set_rate_limit(
                limit["scope"],
                limit["key"],
                per_second=limit.get("per_second"),
                max_concurrent=limit.get("max_concurrent"),
            )
        if self.batch is None:
            return
        await self.create_batch(
            "sasha",
            {
                f"sweep-{rate}": _spec(
                    "model-training",
                    f"Churn model sweep: learning rate {rate}",
                    {
                        "inputPath": "examples/data/churn.csv",
                        "target": "churn",
                        "epochs": 200,
                        "learningRate": rate,
                        "modelPath": f"examples/out/sweep/churn-lr-{rate}.joblib",
                    },
                )
                for rate in (0.001, 0.01, 0.1)
            },
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            queues = {q["name"]: q for q in await self.client.queues()}
            if queues.get("model-training", {}).get("heldBack"):
                return
            await asyncio.sleep(0.1)
        raise TimeoutError("the model-training limit never held the sweep batch back")

    async def add_rules(self) -> None:
        for rule in RULES:
            await self.client.add_notification_rule(rule)


def _spec(job_type: str, name: str, data: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": job_type, "name": name, "data": data, **extra}


async def shoot(console: Console, out: Path, scene: Scene) -> list[Path]:
    window = console.window
    saved: list[Path] = []

    async def shown(job_id: str) -> None:
        deadline = time.monotonic() + 10
        while window.detail.job is None or window.detail.job.id != job_id:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the detail pane never showed {job_id}")
            await asyncio.sleep(0.05)

    async def grab(widget: widgets.QWidget, name: str) -> None:
        await asyncio.sleep(0.4)  # a frame or two, and the refresh it started
        path = out / f"{name}.png"
        if not widget.grab().save(str(path)):
            raise OSError(f"could not write {path}")
        saved.append(path)

    window.tabs.setCurrentIndex(0)
    await window.refresh_now()
    await grab(window, "overview")

    window.tabs.setCurrentIndex(1)
    window.jobs_split.setSizes([480, 350])
    await window.model.load()
    long_id = scene.jobs["long"].id
    window.jobs_view.select_ids([long_id])
    window.jobs_view.table.setCurrentIndex(window.model.index(window.model.row_of(long_id) or 0, 0))
    window.detail.tabs.setCurrentIndex(5)
    await shown(long_id)
    await grab(window, "jobs")

    failed_id = scene.jobs["missing"].id
    window.jobs_view.table.setCurrentIndex(window.model.index(window.model.row_of(failed_id) or 0, 0))
    window.jobs_view.select_ids([failed_id])
    window.jobs_split.setSizes([330, 500])
    window.detail.tabs.setCurrentIndex(3)
    await shown(failed_id)
    await grab(window, "job-detail")
    window.detail.tabs.setCurrentIndex(4)
    await grab(window, "job-attempts")
    window.jobs_split.setSizes([480, 350])

    window.tabs.setCurrentIndex(2)
    await window.refresh_now()
    window.queues_view.table.selectRow(0)
    await grab(window, "queues")

    window.tabs.setCurrentIndex(3)
    await window.refresh_now()
    await grab(window, "workers")

    window.tabs.setCurrentIndex(window.tab_views.index(window.batches_view))
    await window.refresh_now()
    await grab(window, "batches")

    limits = window.rate_limits_view
    window.tabs.setCurrentIndex(window.tab_views.index(limits))
    await window.refresh_now()
    holding = [i for i, r in enumerate(limits.model.records) if r.get("holding")]
    limits.table.selectRow(holding[0] if holding else 0)  # the form shows the limit holding a queue back
    await grab(window, "rate-limits")

    window.tabs.setCurrentIndex(window.tab_views.index(window.rules_view))
    await window.refresh_now()
    await grab(window, "notifications")

    dialog = await window._open_create_dialog()
    if dialog is not None:
        dialog.select_type("model-training")
        dialog.name.setText("Train churn model v33")
        dialog.data.editor.setPlainText(
            '{\n  "inputPath": "examples/data/churn.csv",\n  "target": "churn",\n  "epochs": 30\n}'
        )
        dialog.data.check()
        await grab(dialog, "new-job")
        dialog.reject()

    resources.apply_theme(console.app, "dark")
    window.apply_theme()
    window.tabs.setCurrentIndex(1)
    window.detail.tabs.setCurrentIndex(0)
    await grab(window, "dark")
    window.tabs.setCurrentIndex(0)
    await window.refresh_now()
    await grab(window, "dark-overview")
    return saved


async def render(connector: Any, out: Path, store: PrefsStore) -> list[Path]:
    console = Console(connector, store)
    console.window.resize(*SIZE)
    try:
        if not await console.start():
            raise SystemExit(f"could not start: {console.window.connection_page.message.text()}")
        assert console.client is not None
        prepare = getattr(connector, "prepare", None)
        if prepare is not None:
            await prepare(console.client)
        scene = Scene(console.client, _batch_maker(connector, console.client))
        await scene.submit()
        await scene.settle()
        await scene.hold_back()
        await scene.add_rules()
        return await shoot(console, out, scene)
    finally:
        await console.shutdown()
        cleanup = getattr(connector, "cleanup", None)
        if cleanup is not None:
            await cleanup()


def _batch_maker(connector: Any, client: JobsClient) -> BatchMaker | None:
    """The connector's `create_batch(client, user, specs)` bound to the client, if it has one."""
    make = getattr(connector, "create_batch", None)
    if make is None:
        return None

    async def batch(user: str, specs: list[dict[str, Any]]) -> list[Job]:
        jobs: list[Job] = await make(client, user, specs)
        return jobs

    return batch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobdesk.ui.screenshots", description=__doc__)
    parser.add_argument("out", type=Path, help="directory for the PNG files")
    parser.add_argument("--connector", default=DEFAULT_CONNECTOR, help="module:callable making the connector")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    args.out.mkdir(parents=True, exist_ok=True)
    from jobdesk.ui.launch import application

    app = application([sys.argv[0]])
    loop = QEventLoop(app)
    asyncio.set_event_loop(loop)
    with tempfile.TemporaryDirectory() as tmp:
        store = PrefsStore(core.QSettings(str(Path(tmp) / "prefs.ini"), core.QSettings.Format.IniFormat))
        connector = load(args.connector)()
        with loop:
            saved = loop.run_until_complete(render(connector, args.out, store))
    for path in saved:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
