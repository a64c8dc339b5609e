"""6. Console: 100,000 jobs and 1,000 updates/s; the Qt loop's worst stall and the process's RSS.

The jobs are loaded straight into PostgreSQL (all finished, so none of
them runs); 2 worker processes of 64 threads run 100 `bench.progress` jobs
at 10 reports/s each. The console runs in a process of its own
(benchmarks/console_proc.py, offscreen Qt): server, window and model as
`jobdesk gui` hosts them.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from benchmarks.dataset import load_jobs
from benchmarks.env import ROOT, BenchEnv
from benchmarks.report import Result

NAME = "console"
TITLE = "Console under 1,000 updates/s with 100,000 jobs"
PROCESSES, THREADS = 2, 64


async def console_process(env: BenchEnv, jobs: int, seconds: float, idle: float) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "benchmarks.console_proc",
        "--jobs",
        str(jobs),
        "--seconds",
        str(seconds),
        "--idle",
        str(idle),
        cwd=ROOT,
        env={**env.environ, "QT_QPA_PLATFORM": "offscreen"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), seconds + 300)
    if proc.returncode != 0:
        # The head names the failure (a Qt fatal message, the first traceback);
        # the tail is the faulthandler's stacks. Both, whole, go to a file.
        text = err.decode(errors="replace")
        log = ROOT / "benchmarks" / "results" / "console-failure.log"
        log.write_text(text)
        raise RuntimeError(
            f"the console process failed ({proc.returncode}); stderr in {log}: {_first_complaint(text)}"
        )
    return json.loads(out.decode().strip().splitlines()[-1])


def _first_complaint(text: str) -> str:
    for line in text.splitlines():
        if any(w in line for w in ("Fatal", "fatal", "Error", "Traceback", "ASSERT", "qt.")):
            return line.strip()[:300]
    return text[:300]


def run(env: BenchEnv, quick: bool = False) -> Result:
    n = 2_000 if quick else 100_000
    jobs = 5 if quick else 100
    seconds = 2.0 if quick else 10.0
    idle = 0.5 if quick else 2.0
    processes, threads = (1, 8) if quick else (PROCESSES, THREADS)
    result = Result(NAME, TITLE, quick=quick)
    result.settings = {
        "jobs_in_table": n,
        "progress_jobs": jobs,
        "updates_per_s_asked": jobs * 10,
        "seconds": seconds,
        "processes": processes,
        "threads": threads,
        "qt": "offscreen",
    }
    env.reset()
    result.details["load_seconds"] = round(load_jobs(env.database_url, n, pending_share=0.0, active=0), 1)
    env.start_workers(processes, threads)
    d = asyncio.run(console_process(env, jobs, seconds, idle))
    result.details.update(d)
    result.settings["ui"] = d.get("ui")
    result.add(
        "stall_max_ms",
        "Qt loop's worst stall under the stream",
        d["stream_stall_ms"]["max"],
        "ms",
        100.0,
        "max",
    )
    result.add("stall_p99_ms", "Qt loop's stall, p99", d["stream_stall_ms"]["p99"], "ms")
    result.add("idle_stall_max_ms", "worst stall before the stream", d["idle_stall_ms"]["max"], "ms")
    result.add("events_per_s", "updates/s the console received", d["events_per_s"], "/s")
    result.add("rss_mb", "console RSS at the end", d["rss_mb"], "MB", 400.0, "max")
    result.add("max_rss_mb", "console peak RSS", d["max_rss_mb"], "MB", 400.0, "max")
    result.add("rows_loaded", "rows the table had loaded", d["rows_loaded"], "rows")
    return result
