"""A live server for the REST and WebSocket tests, and the people who call it.

The server is started once for this package, on free ports, inside the
session's event loop (no thread): the tests talk to it over real sockets with
httpx and websockets, as any client would.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from jobdesk.config import Settings
from jobdesk.core.registry import registry
from jobdesk.server.options import ServerOptions
from jobdesk.server.runtime import Server, start_server
from jobdesk.store import tokens
from jobdesk.store.db import connect_sync
from jobdesk.store.tokens import TokenInfo


@dataclass(frozen=True)
class Who:
    token: str
    info: TokenInfo

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="package")
async def server(settings: Settings) -> AsyncIterator[Server]:
    srv = await start_server(
        settings,
        registry,
        local_workers=0,
        host="127.0.0.1",
        api_port=0,
        ws_port=0,
        options=ServerOptions(ws_ping_interval_s=5),
    )
    try:
        yield srv
    finally:
        await srv.stop()


@pytest.fixture(scope="package")
def people(settings: Settings) -> dict[str, Who]:
    """alice and amos share org-a, bob is in org-b, root is an admin (of org ops)."""
    made = {}
    with connect_sync(settings.database_url) as conn:
        for name, user, org, admin in (
            ("alice", "alice", "org-a", False),
            ("amos", "amos", "org-a", False),
            ("bob", "bob", "org-b", False),
            ("root", "root", "ops", True),
        ):
            token, info = tokens.create(conn, user, org, is_admin=admin, name=f"test {name}")
            made[name] = Who(token, info)
    return made


@pytest.fixture
def org(settings: Settings) -> dict[str, Who]:
    """A new organization of this test's own: `member` and `colleague`, and its `admin`."""
    name = f"org-{uuid.uuid4().hex[:8]}"
    made = {}
    with connect_sync(settings.database_url) as conn:
        for role, admin in (("member", False), ("colleague", False), ("admin", True)):
            token, info = tokens.create(conn, f"{role}-{name}", name, is_admin=admin, name=f"test {role}")
            made[role] = Who(token, info)
    return made


@pytest.fixture(autouse=True)
def _fresh_limiter(request: pytest.FixtureRequest) -> Iterator[None]:
    """Failed-auth tests must not lock the next test out (every test comes from 127.0.0.1)."""
    yield
    if "server" in request.fixturenames:
        request.getfixturevalue("server").auth.limiter.reset()


@pytest.fixture(scope="package")
async def http(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.api_url, timeout=20) as client:
        yield client


async def create(http: httpx.AsyncClient, who: Who, **spec: Any) -> dict[str, Any]:
    body = {"type": "test.noop", **spec}
    r = await http.post("/api/jobs", json=body, headers=who.headers)
    assert r.status_code == 201, r.text
    return r.json()


async def wait_job(
    http: httpx.AsyncClient, who: Who, job_id: str, statuses: set[str], timeout: float = 45
) -> dict[str, Any]:
    """The job once its status is one of `statuses` (generous: the machine may be loaded)."""
    from tests.support.asserts import eventually

    async def check() -> dict[str, Any] | None:
        job: dict[str, Any] = (await http.get(f"/api/jobs/{job_id}", headers=who.headers)).json()
        return job if job["status"] in statuses else None

    what = f"job {job_id} to reach {statuses}"
    result: dict[str, Any] = await eventually(check, timeout=timeout, what=what)
    return result


def ws_connect(server: Server, who: Who | None = None, **kwargs: Any) -> Any:
    url = server.ws_url + (f"?token={who.token}" if who else "")
    kwargs.setdefault("open_timeout", 5)
    return websockets.connect(url, **kwargs)


async def next_event(ws: ClientConnection, timeout: float = 10) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def next_reply(ws: ClientConnection, timeout: float = 10) -> dict[str, Any]:
    """The next message that is not a job event.

    The hub delivers events a moment after the write; one about a job of an
    earlier test may still arrive, and must not be taken for a reply.
    """
    while True:
        msg = await next_event(ws, timeout)
        if not msg["event"].startswith("job-"):
            return msg


async def events_until(
    ws: ClientConnection, stop: Any, timeout: float = 20, job_id: str | None = None
) -> list[dict[str, Any]]:
    """Job events (of one job, if given) until `stop(message)` is true, that one included."""
    out: list[dict[str, Any]] = []
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            raise AssertionError(f"timed out; got {[m['event'] for m in out]}")
        msg = await next_event(ws, left)
        data = msg.get("data") or {}
        if not msg["event"].startswith("job-") or (job_id is not None and data.get("id") != job_id):
            continue
        out.append(msg)
        if stop(msg):
            return out


async def assert_quiet(ws: ClientConnection, about: set[str] | None = None, settle: float = 0.0) -> None:
    """No event about the jobs `about` (any job, if None) is queued for `ws` before the
    answer to a ping sent now, after `settle` seconds for the hub to catch up."""
    await asyncio.sleep(settle)
    await ws.send(json.dumps({"event": "ping", "data": {"probe": 1}}))
    while True:
        msg = await next_event(ws)
        if msg["event"] == "pong":
            assert msg["data"] == {"probe": 1}, msg
            return
        if about is None or (msg.get("data") or {}).get("id") in about:
            raise AssertionError(f"unexpected {msg['event']} for job {msg['data'].get('id')}")


@pytest.fixture(scope="module")
def live_workers(settings: Settings) -> Iterator[None]:
    """One real worker process for a module whose jobs must run; stopped with the module,
    so that the other modules' pending jobs stay pending."""
    import os

    from tests.support.workers import WorkerProcess, wait_for

    handle = WorkerProcess(dict(os.environ))
    try:
        handle.start(processes=1, threads=4, wait=False)
        # Generous: on a loaded machine, importing every job type takes a while.
        wait_for(lambda: handle.live_count() >= 1, timeout=90, what="a worker to register")
        yield
    finally:
        handle.stop_all()
