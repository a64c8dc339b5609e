"""Fixtures for schedules, notifications and metrics: their tables emptied, local receivers."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg
import pytest
from aiosmtpd.controller import Controller

from jobdesk.config import Settings
from jobdesk.store.db import open_pool
from jobdesk.store.jobs import JobStore
from tests.support.workers import WorkerProcess, wait_for


@pytest.fixture
def tables(clean: Settings) -> Settings:
    """The `clean` fixture's tables plus ours (the outbox goes with jobs, by cascade)."""
    with psycopg.connect(clean.database_url, autocommit=True) as conn:
        conn.execute("TRUNCATE schedules, notification_rules, notification_outbox CASCADE")
    return clean


@pytest.fixture(scope="module")
def shared_workers(settings: Settings) -> Iterator[WorkerProcess]:
    """One worker process for a whole module, for tests where jobs only need to end.

    Starting workers is the slow part of a test on a busy machine; `clean`
    between tests is harmless to them (the heartbeat re-registers within 0.5 s).
    """
    handle = WorkerProcess(dict(os.environ))
    handle.start(processes=1, threads=4, wait=False)
    try:
        wait_for(lambda: handle.live_count() >= 1, timeout=90, what="the shared worker to register")
        yield handle
    finally:
        handle.stop_all()


@pytest.fixture
async def second_store(tables: Settings) -> AsyncIterator[JobStore]:
    """A store on a pool of its own: what a second server would have."""
    pool = await open_pool(tables.database_url, max_size=4)
    try:
        yield JobStore(pool)
    finally:
        await pool.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    path: str
    body: Any
    at: float


@dataclass
class WebhookServer:
    """A local HTTP server: records every POST; `statuses` are answered first, then 200s."""

    url: str
    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    delay_s: float = 0.0

    def on(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]


@pytest.fixture
def webhook() -> Iterator[WebhookServer]:
    state = WebhookServer(url="")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                state.received.append(Received(self.path, json.loads(raw or b"null"), time.monotonic()))
                status = state.statuses.pop(0) if state.statuses else 200
            time.sleep(state.delay_s)
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok" if status < 300 else b"not now")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Mailbox:
    host: str
    port: int
    messages: list[dict[str, Any]] = field(default_factory=list)

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        self.messages.append(
            {"from": envelope.mail_from, "to": list(envelope.rcpt_tos), "content": envelope.content}
        )
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> Iterator[Mailbox]:
    """An aiosmtpd server on a free local port (it runs its own loop in a thread)."""
    box = Mailbox("127.0.0.1", free_port())
    controller = Controller(box, hostname=box.host, port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()
