"""The console's process for scenario 6, run alone so that its RSS is the console's.

    QT_QPA_PLATFORM=offscreen python -m benchmarks.console_proc --jobs 100 --seconds 10

It hosts what `jobdesk gui` hosts on one qasync loop: the server (engine,
REST, WebSocket) and the window, here the real MainWindow on its Jobs tab
(or, if this build has none, the JobsView or a bare QTableView over the real
JobsTableModel), fed by the real EventRouter. A precise 10 ms QTimer notes
how late each tick fires: the loop's stalls. Phases: idle, then `--jobs`
bench.progress jobs reporting 10 times a second each (100 jobs: 1,000
updates/s) while the table is scrolled to its end every half second, which
loads page after page (fetchMore, up to the model's cap). Prints one JSON
object on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import sys
import time
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import psutil

from benchmarks.measure import summary

TICK_MS = 10


class StallProbe:
    def __init__(self, core: Any) -> None:
        self.timer = core.QTimer()
        self.timer.setTimerType(core.Qt.TimerType.PreciseTimer)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self.on_tick)
        self.last = 0.0
        self.lates: list[float] = []

    def start(self) -> None:
        self.lates = []
        self.last = time.perf_counter()
        self.timer.start()

    def stop(self) -> list[float]:
        self.timer.stop()
        return self.lates

    def on_tick(self) -> None:
        now = time.perf_counter()
        self.lates.append(max(0.0, (now - self.last) * 1000 - TICK_MS))
        self.last = now


class GcPauses:
    """How long Python's garbage collector held the loop, per collection (gc.callbacks)."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []
        self._t0 = 0.0
        gc.callbacks.append(self.on_gc)

    def on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            self.pauses.append((int(info.get("generation", 0)), (time.perf_counter() - self._t0) * 1000))

    def summary(self) -> dict[str, Any]:
        full = [ms for gen, ms in self.pauses if gen == 2]
        return {
            "collections": len(self.pauses),
            "max_ms": round(max((ms for _, ms in self.pauses), default=0.0), 1),
            "gen2_collections": len(full),
            "gen2_max_ms": round(max(full, default=0.0), 1),
        }


def rss_mb() -> float:
    return round(psutil.Process().memory_info().rss / 2**20, 1)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks import serving
    from benchmarks.env import JOB_MODULES
    from jobdesk.config import load_settings
    from jobdesk.core.heap import settle_heap
    from jobdesk.core.registry import load_job_modules
    from jobdesk.embedded import EmbeddedClient
    from jobdesk.server.runtime import start_server
    from jobdesk.ui.events import EventRouter
    from jobdesk.ui.qt import core, widgets

    out: dict[str, Any] = {"rss_mb_at_start": rss_mb()}
    settings = load_settings()
    registry = load_job_modules([JOB_MODULES])
    server = await start_server(settings, registry, local_workers=0, host="127.0.0.1", api_port=0, ws_port=0)
    client = EmbeddedClient(server.engine, server.workers, server)
    router = EventRouter()
    window, table, model, ui = build_ui(client, router, widgets)
    window.resize(1400, 900)
    window.show()
    settle_heap()  # as the console does once its window is up
    probe = StallProbe(core)
    try:
        await model.load()
        out["rss_mb_after_load"] = rss_mb()
        probe.start()
        await asyncio.sleep(args.idle)
        out["idle_stall_ms"] = summary(probe.stop(), 1)

        specs = [
            {
                "type": "bench.progress",
                "data": {"count": int(args.seconds * 10), "interval": 0.1, "phase": i / args.jobs / 10},
            }
            for i in range(args.jobs)
        ]
        received0 = router.received
        flushes0 = model.flushes
        gc_pauses = GcPauses()
        probe.start()
        t0 = time.perf_counter()
        await server.engine.service.create_jobs(serving.USER, serving.ORG, specs)
        peak_rss = rss_mb()
        while time.perf_counter() - t0 < args.seconds + 3:
            table.scrollToBottom()
            await asyncio.sleep(0.5)
            peak_rss = max(peak_rss, rss_mb())
        lates = probe.stop()
        seconds = time.perf_counter() - t0
        out.update(
            {
                "ui": ui,
                "stream_stall_ms": summary(lates, 1),
                "stalls_over_50ms": sum(1 for x in lates if x > 50),
                "stalls_over_100ms": sum(1 for x in lates if x > 100),
                "gc_during_stream": gc_pauses.summary(),
                "events_received": router.received - received0,
                # Over the stream's nominal length: the jobs report for args.seconds.
                "events_per_s": round((router.received - received0) / args.seconds, 1),
                "observed_seconds": round(seconds, 1),
                "frames_applied": model.flushes - flushes0,
                "rows_loaded": model.rowCount(),
                "total_jobs": model.total,
                "rss_mb": rss_mb(),
                "rss_mb_peak_sampled": peak_rss,
                "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            }
        )
    finally:
        window.close()
        router.detach()
        await server.stop()
    return out


def build_ui(client: Any, router: Any, widgets: Any) -> tuple[Any, Any, Any, str]:
    """(top-level widget, table view, model, which UI) — the fullest this build has."""
    router.attach(client)
    try:
        from jobdesk.ui.mainwindow import MainWindow

        window = MainWindow()
        window.set_client(client)
        router.jobs_changed.connect(window.on_jobs_changed)
        window.tabs.setCurrentIndex(1)  # Jobs
        return window, window.jobs_view.table, window.model, "MainWindow (Jobs tab)"
    except (ImportError, AttributeError):
        pass
    from jobdesk.ui.models.jobs import JobsTableModel

    model = JobsTableModel(client)
    router.jobs_changed.connect(model.apply_events)
    try:
        from jobdesk.ui.widgets.jobs_view import JobsView

        view = JobsView(model)
        return view, view.table, model, "JobsView"
    except (ImportError, AttributeError):
        table = widgets.QTableView()
        table.setModel(model)
        return table, table, model, "QTableView + JobsTableModel"


def run(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.console_proc")
    p.add_argument("--jobs", type=int, default=100, help="progress jobs at once (10 updates/s each)")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--idle", type=float, default=2.0)
    args = p.parse_args(argv)

    from jobdesk.ui.qt import QEventLoop, widgets

    app = widgets.QApplication.instance() or widgets.QApplication(sys.argv[:1])
    loop = QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        result = loop.run_until_complete(main(args))
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    # PySide6 6.12 sometimes aborts while the interpreter finalizes ("bool_dealloc: deallocating
    # True or False"); everything is measured and written by now, so skip the finalization.
    os._exit(0)


if __name__ == "__main__":
    run()
