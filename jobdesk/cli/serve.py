"""`jobdesk serve`: the REST API, WebSocket gateway, dispatcher and local workers, without a window."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys

from jobdesk.cli.common import CliError, add_common, registry_from, settings_from
from jobdesk.config import Settings
from jobdesk.core.heap import settle_heap
from jobdesk.core.registry import Registry

# A signal must end the process within 10 s; the server's own stop fits in
# less, and this is the backstop.
STOP_DEADLINE_S = 9.0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the REST API, WebSocket gateway and dispatcher (no window)")
    p.add_argument("--host", help="address to listen on (default JOBDESK_HOST, 127.0.0.1)")
    p.add_argument("--port", type=int, help="REST API port (default JOBDESK_API_PORT, 3000; 0 picks one)")
    p.add_argument("--ws-port", type=int, help="WebSocket port (default JOBDESK_WS_PORT, 3001; 0 picks one)")
    p.add_argument("--workers", type=int, default=2, help="local worker processes (default 2, 0 for none)")
    p.add_argument("--threads", type=int, default=8, help="threads per local worker process (default 8)")
    add_common(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    for flag, value in (("--port", args.port), ("--ws-port", args.ws_port)):
        if value is not None and not 0 <= value <= 65535:
            raise CliError(f"{flag} must be between 0 and 65535")
    if not 0 <= args.workers <= 64:
        raise CliError("--workers must be between 0 and 64")
    if not 1 <= args.threads <= 256:
        raise CliError("--threads must be between 1 and 256")
    settings = settings_from(args)
    registry = registry_from(settings)
    return asyncio.run(_serve(settings, registry, args))


async def _serve(settings: Settings, registry: Registry, args: argparse.Namespace) -> int:
    from jobdesk.server.runtime import start_server

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    starting = asyncio.create_task(
        start_server(
            settings,
            registry,
            local_workers=args.workers,
            threads=args.threads,
            host=args.host,
            api_port=args.port,
            ws_port=args.ws_port,
        )
    )
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():
        # A signal during start-up: start_server undoes what it had started.
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting
        return 0
    stopping.cancel()
    server = starting.result()  # a JobdeskError here becomes one line on stderr
    settle_heap()
    workers = f"{args.workers} local worker process{'es' if args.workers != 1 else ''}"
    print(
        f"jobdesk serve: REST {server.api_url}/api (docs {server.api_url}/api/docs), "
        f"WebSocket {server.ws_url}, {workers}; Ctrl-C to stop",
        flush=True,
    )
    await stop.wait()
    print("jobdesk serve: stopping", file=sys.stderr, flush=True)
    workers_proc = server.workers.proc  # stop() lets go of it
    try:
        await asyncio.wait_for(server.stop(), STOP_DEADLINE_S)
    except TimeoutError:
        print("jobdesk serve: stop timed out; killing local workers", file=sys.stderr, flush=True)
        _kill_workers(workers_proc)
        return 1
    return 0


def _kill_workers(proc: asyncio.subprocess.Process | None) -> None:
    if proc is not None and proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
