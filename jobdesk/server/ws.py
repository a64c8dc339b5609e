"""The WebSocket gateway: job events from the hub, scoped to what each token may see.

`ws://HOST:3001/jobs?token=<token>` (or `Authorization: Bearer <token>`).
The token is checked during the handshake: missing or wrong is refused with
401, an address locked out for failed tokens with 429, an Origin outside the
allow-list with 403.

Server to client, one JSON object a message, `{"event": E, "data": ...}`:
the job events (`job-created`, `job-update`, `job-completed`, `job-failed`,
`job-cancelled`, data = the job) for the connection's own user's jobs and the
jobs it subscribed to; `subscribed`/`unsubscribed` acknowledgements; `pong`;
`resync` when events may have been missed (re-read over REST); `error`;
`batch-completed` (data = the batch summary of `GET /api/batches/{id}`) to
every connection of the batch's organization, and to admins, once all of a
batch's jobs have finished.

Client to server: `subscribe-job`/`unsubscribe-job` `{"jobId": ...}`,
`subscribe-all`/`unsubscribe-all` (every job the token may see), `ping`.

Each connection has its own queue, bounded in bytes, drained by its own task:
the hub only appends, so one slow reader never delays the others. A
connection whose queue is full is closed with 1013 (see the README).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import weakref
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from jobdesk.core.errors import JobdeskError, JobNotFound, NotFound
from jobdesk.core.events import JobEvent
from jobdesk.core.jobs import Job
from jobdesk.server.auth import Authenticator, TooManyRequests, bearer
from jobdesk.server.logs import WS_LOGGER
from jobdesk.server.options import WS_MESSAGE_MAX_BYTES, ServerOptions
from jobdesk.service.engine import Engine
from jobdesk.store.jobs import as_uuid
from jobdesk.store.tokens import TokenInfo

log = logging.getLogger(__name__)

PATH = "/jobs"
CLOSE_SLOW_CONSUMER = 1013  # "try again later"
SLOW_REASON = "slow consumer: events were dropped; reconnect and re-read jobs over REST"
SUBSCRIPTIONS_MAX = 1000
CLOSE_REVOKED = 4401
# How often open connections are checked against revoked tokens.
REVOCATION_CHECK_S = 10.0
_ECHO_MAX = 100  # characters of a client's value quoted back in an error


def _dumps(value: Any) -> str:
    # ASCII-only, so a message's length in characters is its size in bytes.
    return json.dumps(value, separators=(",", ":"), default=str)


class Client:
    """One connection: who it is, what it follows, and its outgoing queue."""

    def __init__(self, ws: ServerConnection, who: TokenInfo, queue_bytes: int) -> None:
        self.ws = ws
        self.who = who
        self.jobs: set[str] = set()
        self.everything = False
        self.queue_bytes = queue_bytes
        self.overflowed = False
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._queued = 0
        self._closing: asyncio.Task[None] | None = None

    def may_see(self, job: Job) -> bool:
        return self.who.is_admin or job.organization_id == self.who.organization_id

    def wants(self, job: Job) -> bool:
        if not self.may_see(job):
            return False
        own = job.user_id == self.who.user_id and job.organization_id == self.who.organization_id
        return own or self.everything or job.id in self.jobs

    def push(self, text: str) -> None:
        """Queue a message; never waits. Over the byte bound, the connection is closed instead."""
        if self.overflowed:
            return
        if self._queued + len(text) > self.queue_bytes:
            # Dropping events silently would leave the client with a wrong picture
            # (a missed job-completed); closing tells it to re-read.
            self.overflowed = True
            log.warning("closing a slow WebSocket consumer (%d bytes queued)", self._queued)
            self._closing = asyncio.ensure_future(self.ws.close(CLOSE_SLOW_CONSUMER, SLOW_REASON))
            return
        self._queued += len(text)
        self._queue.put_nowait(text)

    def send(self, event: str, data: Any) -> None:
        self.push(_dumps({"event": event, "data": data}))

    def error(self, message: str, **extra: Any) -> None:
        self.send("error", {"message": message, **extra})

    async def pump(self) -> None:
        while True:
            text = await self._queue.get()
            self._queued -= len(text)
            await self.ws.send(text)


class Gateway:
    def __init__(self, engine: Engine, auth: Authenticator, options: ServerOptions) -> None:
        self.engine = engine
        self.auth = auth
        self.options = options
        self.origins: list[str] = options.origin_list
        self.queue_bytes = options.ws_queue_bytes
        self.clients: set[Client] = set()
        self.server: Server | None = None
        # Who each connection is, from the handshake until its handler starts.
        self._pending: weakref.WeakKeyDictionary[ServerConnection, TokenInfo] = weakref.WeakKeyDictionary()
        self._unsubscribe: Callable[[], None] | None = None
        self._watch: asyncio.Task[None] | None = None
        self._stopped = False
        # Batch look-ups in flight, kept so that they are not collected, and cancelled at stop.
        self._lookups: set[asyncio.Task[None]] = set()
        self._handlers: dict[str, Callable[[Client, Any], Awaitable[None]]] = {
            "subscribe-job": self._subscribe_job,
            "unsubscribe-job": self._unsubscribe_job,
            "subscribe-all": self._subscribe_all,
            "unsubscribe-all": self._unsubscribe_all,
            "ping": self._ping,
        }

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def start(self, sock: socket.socket) -> None:
        self._unsubscribe = self.engine.hub.subscribe(self._on_events)
        self.engine.hub.on_resync(self._on_resync)
        # The hub has no way to unsubscribe these: after stop(), _on_other ignores them.
        self.engine.hub.on_other(self._on_other)
        self.server = await serve(
            self._handle,
            sock=sock,
            process_request=self._process_request,
            max_size=WS_MESSAGE_MAX_BYTES,
            ping_interval=self.options.ws_ping_interval_s,
            ping_timeout=self.options.ws_ping_interval_s,
            close_timeout=2,
            # Compression is per connection: with many readers of the same
            # events it costs more CPU than the bandwidth it saves.
            compression=None,
            server_header=None,
            logger=logging.getLogger(WS_LOGGER),
        )
        self._watch = asyncio.create_task(self._watch_revocations(), name="jobdesk-ws-revocations")

    async def stop(self) -> None:
        self._stopped = True
        for task in list(self._lookups):
            task.cancel()
        if self._lookups:
            await asyncio.gather(*self._lookups, return_exceptions=True)
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        if self._unsubscribe:
            self._unsubscribe()
            self._unsubscribe = None
        if self.server is not None:
            self.server.close()  # each connection gets 1001 "going away"
            await self.server.wait_closed()

    async def close_revoked(self) -> int:
        """Close the connections whose token was revoked since they connected; how many."""
        clients = list(self.clients)
        revoked = await self.auth.tokens.revoked_among(sorted({c.who.id for c in clients}))
        closing = [c for c in clients if c.who.id in revoked]
        await asyncio.gather(*(c.ws.close(CLOSE_REVOKED, "token revoked") for c in closing))
        return len(closing)

    async def _watch_revocations(self) -> None:
        while True:
            await asyncio.sleep(REVOCATION_CHECK_S)
            try:
                await self.close_revoked()
            except Exception as exc:  # PostgreSQL away: try again next time
                log.warning("cannot check for revoked tokens: %s", exc)

    # -- handshake -------------------------------------------------------------------------

    async def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        if url.path.rstrip("/") != PATH:
            return conn.respond(HTTPStatus.NOT_FOUND, f"no such endpoint; the WebSocket path is {PATH}\n")
        origin = _one(request.headers, "Origin")
        if self.origins and origin is not None and origin not in self.origins:
            return conn.respond(HTTPStatus.FORBIDDEN, "this Origin is not allowed\n")
        token = parse_qs(url.query).get("token", [None])[0] or bearer(_one(request.headers, "Authorization"))
        address = conn.remote_address[0] if conn.remote_address else "unknown"
        try:
            who = await self.auth.check(token, address)
        except TooManyRequests as exc:
            response = conn.respond(HTTPStatus.TOO_MANY_REQUESTS, exc.message + "\n")
            response.headers["Retry-After"] = str(exc.retry_after)
            return response
        except JobdeskError as exc:
            response = conn.respond(exc.status, exc.message + "\n")
            if exc.status == HTTPStatus.UNAUTHORIZED:
                response.headers["WWW-Authenticate"] = "Bearer"
            return response
        self._pending[conn] = who
        return None

    # -- a connection's life -----------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        who = self._pending.pop(ws, None)
        if who is None:  # cannot happen: the handshake refuses first
            await ws.close(4401, "unauthorized")
            return
        client = Client(ws, who, self.queue_bytes)
        self.clients.add(client)
        pump = asyncio.create_task(client.pump(), name="jobdesk-ws-pump")
        try:
            async for message in ws:
                await self._on_message(client, message)
        except ConnectionClosed:
            pass
        finally:
            self.clients.discard(client)
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await pump

    async def _on_message(self, client: Client, message: str | bytes) -> None:
        if isinstance(message, bytes):
            client.error("send JSON text messages, not binary ones")
            return
        try:
            msg = json.loads(message)
        except (ValueError, RecursionError) as exc:
            client.error(f"not JSON: {exc}"[:200])
            return
        if not isinstance(msg, dict) or not isinstance(msg.get("event"), str):
            client.error('a message is an object: {"event": NAME, "data": {...}}')
            return
        event = msg["event"]
        handler = self._handlers.get(event)
        if handler is None:
            client.error(f"unknown event {event[:_ECHO_MAX]!r}; known: {', '.join(self._handlers)}")
            return
        try:
            await handler(client, msg.get("data"))
        except Exception:  # a bug of ours: say so, and keep the connection
            log.exception("WebSocket %s failed", event)
            client.error(f"{event} failed; the server log has the details")

    async def _subscribe_job(self, client: Client, data: Any) -> None:
        job_id = _job_id(data)
        if job_id is None:
            client.error('subscribe-job needs {"jobId": "<id>"}', event="subscribe-job")
            return
        if len(client.jobs) >= SUBSCRIPTIONS_MAX:
            client.error(f"at most {SUBSCRIPTIONS_MAX} subscriptions per connection", jobId=job_id)
            return
        try:
            job = await self.engine.service.get_job(job_id, client.who.scope)
        except JobNotFound:
            # The same answer for a missing job and another organization's.
            client.error(f"job {job_id} not found", jobId=job_id)
            return
        except (JobdeskError, psycopg.Error) as exc:
            log.warning("subscribe-job: %s", exc)
            client.error("cannot look the job up just now; try again", jobId=job_id)
            return
        client.jobs.add(job.id)
        client.send("subscribed", {"jobId": job.id, "job": job.to_api()})

    async def _unsubscribe_job(self, client: Client, data: Any) -> None:
        job_id = _job_id(data)
        if job_id is None:
            client.error('unsubscribe-job needs {"jobId": "<id>"}', event="unsubscribe-job")
            return
        canonical = as_uuid(job_id)
        client.jobs.discard(str(canonical) if canonical else job_id)
        client.send("unsubscribed", {"jobId": job_id})

    async def _subscribe_all(self, client: Client, data: Any) -> None:
        client.everything = True
        client.send("subscribed", {"all": True})

    async def _unsubscribe_all(self, client: Client, data: Any) -> None:
        client.everything = False
        client.send("unsubscribed", {"all": True})

    async def _ping(self, client: Client, data: Any) -> None:
        # For browsers, which cannot send protocol-level pings.
        client.send("pong", data if data is not None else {})

    # -- events from the hub -------------------------------------------------------------------

    def _on_events(self, events: list[JobEvent]) -> None:
        clients = list(self.clients)
        if not clients:
            return
        for event in events:
            text: str | None = None
            for client in clients:
                if client.wants(event.job):
                    if text is None:  # serialized once, for every reader
                        text = _dumps(event.to_wire())
                    client.push(text)

    def _on_other(self, event: str, subject: str) -> None:
        if event != "batch-completed" or self._stopped or not self.clients:
            return
        task = asyncio.ensure_future(self._send_batch(subject))
        self._lookups.add(task)
        task.add_done_callback(self._lookups.discard)

    async def _send_batch(self, batch_id: str) -> None:
        try:
            batch = await self.engine.flow.get_batch(batch_id, None)
        except NotFound:  # purged meanwhile
            return
        except (JobdeskError, psycopg.Error) as exc:
            log.warning("cannot read batch %s for its batch-completed event: %s", batch_id, exc)
            return
        text: str | None = None
        for client in list(self.clients):
            if client.who.is_admin or client.who.organization_id == batch["organizationId"]:
                if text is None:
                    text = _dumps({"event": "batch-completed", "data": batch})
                client.push(text)

    def _on_resync(self) -> None:
        for client in list(self.clients):
            client.send("resync", {"message": "events may have been missed; re-read your jobs over REST"})


def _one(headers: Headers, name: str) -> str | None:
    values = headers.get_all(name)
    return values[0] if len(values) == 1 else None


def _job_id(data: Any) -> str | None:
    """`{"jobId": id}`, or the id alone, as some clients of the original sent it."""
    value = data.get("jobId") if isinstance(data, dict) else data
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()[:_ECHO_MAX]
