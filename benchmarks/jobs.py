"""Job types the benchmarks run (`JOBDESK_JOB_MODULES=benchmarks.jobs`).

`bench.noop` does nothing, so a run measures the engine alone. `bench.sleep`
keeps a worker thread busy for a while. `bench.progress` reports progress on
a fixed schedule; each message is the wall-clock time (time.time()) at which
it was reported, so that a receiver on this machine can tell how long the
event took to reach it.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from jobdesk import JobContext, job


@job("bench.noop", queue="bench")
def noop(ctx: JobContext, data: dict[str, Any]) -> None:
    return None


@job("bench.sleep", queue="bench-sleep")
def sleep(ctx: JobContext, data: dict[str, Any]) -> None:
    time.sleep(float(data.get("seconds", 0.05)))


@job("bench.progress", queue="bench-progress")
def progress(ctx: JobContext, data: dict[str, Any]) -> dict[str, int]:
    """`count` reports, one every `interval` seconds, starting `phase` seconds in (0 <= phase < interval)."""
    count = int(data.get("count", 10))
    interval = float(data.get("interval", 0.1))
    start = time.monotonic() + float(data.get("phase", 0.0))
    for i in range(count):
        delay = start + i * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        ctx.progress(i + 1, count, f"{time.time():.6f}")
    return {"reports": count}


# -- a probe into worker processes ---------------------------------------------------------------
# With BENCH_PROBE_DIR set, each worker process writes how many group commits
# its state writer has made to BENCH_PROBE_DIR/<pid>.json, four times a
# second, so a benchmark can tell how many jobs each commit carried.


def _probe(folder: Path) -> None:
    from dramatiq import broker as dramatiq_broker

    path = folder / f"{os.getpid()}.json"
    while True:
        time.sleep(0.25)
        broker = dramatiq_broker.global_broker
        if broker is None:
            continue
        writer = next(
            (getattr(m, "writer", None) for m in broker.middleware if getattr(m, "writer", None)), None
        )
        if writer is None:
            continue
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"pid": os.getpid(), "batches": writer.batches}))
        tmp.replace(path)


def read_probes(folder: Path) -> int:
    """Group commits made so far by every worker process that reported."""
    total = 0
    for f in folder.glob("*.json"):
        try:
            total += int(json.loads(f.read_text())["batches"])
        except (OSError, ValueError, KeyError):
            continue
    return total


# Only in a worker process: `dramatiq jobdesk.workers.boot` is importing this module.
if os.environ.get("BENCH_PROBE_DIR") and "jobdesk.workers.boot" in sys.modules:
    threading.Thread(target=_probe, args=(Path(os.environ["BENCH_PROBE_DIR"]),), daemon=True).start()
