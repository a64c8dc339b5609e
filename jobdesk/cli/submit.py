"""`jobdesk submit TYPE`: create a job; with --wait, follow it to the end."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from jobdesk.cli.common import CliError, add_common, registry_from, settings_from
from jobdesk.config import Settings
from jobdesk.core.events import JobEvent
from jobdesk.core.jobs import Job, JobStatus
from jobdesk.core.registry import Registry

if TYPE_CHECKING:
    from jobdesk.service.engine import Engine


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("submit", help="create a job and print its id")
    p.add_argument("type", help="the job type")
    p.add_argument("--data", default="{}", help="a JSON object, or @file holding one")
    p.add_argument("--name")
    p.add_argument("--description")
    p.add_argument("--priority", type=int, default=0, help="higher runs first (-1000..1000)")
    p.add_argument("--max-attempts", type=int)
    p.add_argument("--user", default=None, help="owner user id (default: your login)")
    p.add_argument("--org", default="default", help="owner organization id (default: default)")
    p.add_argument("--wait", action="store_true", help="show progress; exit 0 if it completes")
    add_common(p)
    p.set_defaults(func=run)


def read_data(text: str) -> dict[str, Any]:
    source = "--data"
    if text.startswith("@"):
        path = Path(text[1:])
        source = str(path)
        try:
            text = path.read_text()
        except OSError as exc:
            raise CliError(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(
            f"{source} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    if not isinstance(data, dict):
        raise CliError(f"{source} must be a JSON object, not {type(data).__name__}")
    return data


def run(args: argparse.Namespace) -> int:
    data = read_data(args.data)
    settings = settings_from(args)
    registry = registry_from(settings)
    spec: dict[str, Any] = {"type": args.type, "data": data, "priority": args.priority}
    for key, value in (
        ("name", args.name),
        ("description", args.description),
        ("maxAttempts", args.max_attempts),
    ):
        if value is not None:
            spec[key] = value
    user = args.user or getpass.getuser()
    # Validate before connecting, so bad input never needs a database to be reported.
    from jobdesk.core.prepare import Defaults, prepare

    prepare(spec, user, args.org, registry, Defaults())
    return asyncio.run(_submit(settings, registry, spec, user, args.org, args.wait))


async def _submit(
    settings: Settings, registry: Registry, spec: dict[str, Any], user: str, org: str, wait: bool
) -> int:
    from jobdesk.service.engine import Engine

    # With --wait this process also dispatches, so workers alone suffice; the
    # dispatcher's SKIP LOCKED claims make that safe beside running servers.
    engine = await Engine.start(settings, registry, dispatch=wait)
    try:
        if not wait:
            job = await engine.service.create_job(user, org, spec)
            print(job.id)
            return 0
        return await _follow(engine, user, org, spec)
    finally:
        await engine.stop()


async def _follow(engine: Engine, user: str, org: str, spec: dict[str, Any]) -> int:
    done: asyncio.Future[Job] = asyncio.get_running_loop().create_future()
    job_id: list[str] = []
    bar = ProgressBar(sys.stderr)

    def on_events(events: list[JobEvent]) -> None:
        for ev in events:
            if job_id and ev.job.id == job_id[0]:
                bar.show(ev.job)
                if ev.job.status.is_terminal and not done.done():
                    done.set_result(ev.job)

    engine.hub.subscribe(on_events)
    job = await engine.service.create_job(user, org, spec)
    job_id.append(job.id)
    print(job.id, flush=True)
    if not await engine.service.workers():
        print("jobdesk: no live workers yet; start `jobdesk worker` or `jobdesk serve`", file=sys.stderr)
    # Re-read now and then too: an event may have fired before we subscribed.
    while not done.done():
        try:
            final = await asyncio.wait_for(asyncio.shield(done), timeout=2.0)
            break
        except TimeoutError:
            current = await engine.service.get_job(job.id)
            bar.show(current)
            if current.status.is_terminal:
                final = current
                break
    else:
        final = done.result()
    bar.close()
    print(
        json.dumps(
            final.to_api()["result" if final.status is JobStatus.COMPLETED else "error"],
            indent=2,
            default=str,
        )
    )
    return 0 if final.status is JobStatus.COMPLETED else 1


class ProgressBar:
    WIDTH = 30

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.last = ""

    def show(self, job: Job) -> None:
        pct = job.progress.percentage
        filled = int(self.WIDTH * pct / 100)
        line = (
            f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {pct:5.1f}% {job.status.value:<9} "
            f"{(job.progress.message or '')[:60]}"
        )
        if line == self.last:
            return
        self.last = line
        if self.tty:
            self.stream.write("\r\x1b[2K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
