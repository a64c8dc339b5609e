"""The one start-up of a jobdesk server, used by `jobdesk serve` and by the console.

    server = await start_server(settings, registry, local_workers=2)
    ...  # REST on server.api_port, WebSocket on server.ws_port
    await server.stop()

Everything runs on the caller's running loop (plain asyncio under `serve`,
qasync under the console): the engine (dispatcher, reconciler, event hub),
the extras (scheduler, notifier, metrics), uvicorn and the WebSocket gateway.
There is no second loop and no thread. Local workers are child processes.
Signals are the caller's business: uvicorn's own handlers are switched off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field

import uvicorn
from fastapi import FastAPI

from jobdesk.config import Settings
from jobdesk.core.errors import JobdeskError
from jobdesk.core.registry import Registry
from jobdesk.server import logs
from jobdesk.server.app import create_app
from jobdesk.server.auth import Authenticator, FailureLimiter
from jobdesk.server.options import ServerOptions
from jobdesk.server.ws import Gateway
from jobdesk.service.engine import Engine
from jobdesk.service.extras import Extras, start_extras
from jobdesk.service.local_workers import LocalWorkers
from jobdesk.store.tokens import TokenStore

log = logging.getLogger(__name__)

# Budget of a stop, all within the 10 s a signal may wait: requests in flight
# get this long to finish; workers get theirs, then are killed (their jobs are
# recovered by the reconciler, as after any crash).
HTTP_GRACE_S = 2.0
WORKERS_GRACE_S = 6.0
# The scheduler and notifier only cancel their tasks and close their clients.
EXTRAS_GRACE_S = 2.0


class ListenFailed(JobdeskError):
    code = "listen_failed"


class _Uvicorn(uvicorn.Server):
    """uvicorn without its signal handling: the host process decides when to stop."""

    def install_signal_handlers(self) -> None:  # uvicorn < 0.29
        pass

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass(eq=False)
class Server:
    """A running server. Ports are the bound ones (useful when 0 was asked for)."""

    engine: Engine
    extras: Extras
    host: str
    api_port: int
    ws_port: int
    workers: LocalWorkers
    app: FastAPI
    auth: Authenticator
    gateway: Gateway
    _http: _Uvicorn
    _http_task: asyncio.Task[None]
    _stopping: asyncio.Task[None] | None = field(default=None, init=False)

    @property
    def api_url(self) -> str:
        return f"http://{_url_host(self.host)}:{self.api_port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{_url_host(self.host)}:{self.ws_port}/jobs"

    async def stop(self) -> None:
        """Stop taking requests, stop the workers, then the engine. Safe to call twice."""
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self._stop())
        await asyncio.shield(self._stopping)

    async def _stop(self) -> None:
        results = await asyncio.gather(
            _stop_http(self._http, self._http_task),
            self.gateway.stop(),
            self.workers.stop(timeout=WORKERS_GRACE_S),
            _stop_extras(self.extras),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                log.warning("while stopping: %r", result)
        await self.engine.stop()


async def start_server(
    settings: Settings,
    registry: Registry,
    *,
    local_workers: int = 2,
    threads: int = 8,
    host: str | None = None,
    api_port: int | None = None,
    ws_port: int | None = None,
    options: ServerOptions | None = None,
) -> Server:
    """Start everything on the running loop; raises a JobdeskError that says what to fix.

    `host`, `api_port` and `ws_port` override the settings; a port of 0 picks a
    free one. If anything fails, or the start is cancelled, whatever had started
    is stopped again.
    """
    options = options or ServerOptions()
    host = host if host is not None else settings.host
    logs.install()
    async with contextlib.AsyncExitStack() as stack:
        # Bound first: a port in use is reported before any slower start-up work.
        api_sock = _bind(host, settings.api_port if api_port is None else api_port, "REST API", "--port")
        stack.callback(api_sock.close)
        ws_sock = _bind(
            host, settings.ws_port if ws_port is None else ws_port, "WebSocket gateway", "--ws-port"
        )
        stack.callback(ws_sock.close)

        engine = await Engine.start(settings, registry)
        stack.push_async_callback(engine.stop)
        extras = await start_extras(engine, scheduler=True, notifier=True)
        stack.push_async_callback(_stop_extras, extras)

        limiter = FailureLimiter(options.auth_failures_max, options.auth_failures_window_s)
        auth = Authenticator(TokenStore(engine.pool), limiter)
        app = create_app(engine, auth, extras=extras, body_max_bytes=options.body_max_bytes)
        http = _Uvicorn(
            uvicorn.Config(
                app,
                lifespan="off",
                ws="none",
                log_config=None,
                # The peer address is the client: X-Forwarded-For from anyone
                # would let a client escape the failed-auth limit.
                proxy_headers=False,
                server_header=False,
                timeout_graceful_shutdown=int(HTTP_GRACE_S),
            )
        )
        api_port_bound = api_sock.getsockname()[1]
        http_task = asyncio.create_task(http.serve(sockets=[api_sock]), name="jobdesk-http")
        stack.push_async_callback(_stop_http, http, http_task)
        await _until_started(http, http_task)

        gateway = Gateway(engine, auth, options)
        await gateway.start(ws_sock)
        stack.push_async_callback(gateway.stop)

        workers = LocalWorkers(local_workers, threads, settings.job_module_list, settings.worker_env())
        await workers.start()
        stack.push_async_callback(workers.stop)

        server = Server(
            engine, extras, host, api_port_bound, gateway.port, workers, app, auth, gateway, http, http_task
        )
        stack.pop_all()
    log.info("jobdesk server: REST %s/api, WebSocket %s", server.api_url, server.ws_url)
    return server


def _bind(host: str, port: int, what: str, flag: str) -> socket.socket:
    if not 0 <= port <= 65535:
        raise ListenFailed(f"invalid port {port} for the {what}: use 0 to 65535")
    sock: socket.socket | None = None
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP, flags=socket.AI_PASSIVE
        )[0]
        # proto must say TCP: asyncio sets TCP_NODELAY only on sockets that do, and
        # without it every response written in two parts waits 40 ms for an ACK.
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
        return sock
    except (OSError, UnicodeError) as exc:
        if sock is not None:
            sock.close()
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ListenFailed(
            f"cannot listen on {host}:{port} for the {what} ({reason}); choose another with {flag} "
            "(or JOBDESK_HOST / JOBDESK_API_PORT / JOBDESK_WS_PORT)"
        ) from None


async def _until_started(http: _Uvicorn, task: asyncio.Task[None]) -> None:
    while not http.started:
        if task.done():
            task.result()  # raises what stopped it
            raise ListenFailed("the REST server stopped while starting")
        await asyncio.sleep(0.005)


async def _stop_http(http: _Uvicorn, task: asyncio.Task[None]) -> None:
    http.should_exit = True
    try:
        await asyncio.wait_for(asyncio.shield(task), HTTP_GRACE_S + 1.0)
    except TimeoutError:
        http.force_exit = True
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _stop_extras(extras: Extras) -> None:
    """Before the engine: they read its pool and hub. Bounded, so the stop keeps its budget."""
    try:
        await asyncio.wait_for(extras.stop(), EXTRAS_GRACE_S)
    except TimeoutError:
        log.warning("the scheduler and notifier took over %.0fs to stop", EXTRAS_GRACE_S)


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host
