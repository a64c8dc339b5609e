"""`jobdesk worker`: Dramatiq worker processes for jobdesk's job types."""

from __future__ import annotations

import argparse
import os
import sys

from jobdesk.cli.common import CliError, add_common, registry_from, settings_from
from jobdesk.dispatch.broker import check_redis
from jobdesk.store import migrate

# Enough prefetch that a thread never waits on Redis: the dispatcher's window,
# not Dramatiq's prefetch, bounds what is in flight. A short idle poll, because
# our queues are empty on purpose between dispatches.
WORKER_ENV = {"dramatiq_queue_prefetch": "64", "dramatiq_worker_timeout": "100"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("worker", help="run worker processes (any machine that reaches Redis and PostgreSQL)")
    p.add_argument("--queues", default="", help="comma-separated queues to serve (default: all)")
    p.add_argument("--processes", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--threads", type=int, default=8, help="threads per process (default 8)")
    add_common(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.processes <= 64:
        raise CliError("--processes must be between 1 and 64")
    if not 1 <= args.threads <= 256:
        raise CliError("--threads must be between 1 and 256")
    settings = settings_from(args)
    registry = registry_from(settings)
    queues = [q.strip() for q in args.queues.split(",") if q.strip()]
    unknown = sorted(set(queues) - set(registry.queues()))
    if unknown:
        raise CliError(f"unknown queue(s) {', '.join(unknown)}; known: {', '.join(registry.queues())}")
    check_redis(settings.redis)
    migrate.upgrade(settings.database_url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        sys.executable,
        "-m",
        "dramatiq",
        "jobdesk.workers.boot",
        "--processes",
        str(args.processes),
        "--threads",
        str(args.threads),
    ]
    if queues:
        argv += ["--queues", *queues]
    env = {**os.environ, **{k: v for k, v in WORKER_ENV.items() if k not in os.environ}}
    sys.stdout.flush()
    os.execve(sys.executable, argv, env)
    return 0  # not reached
