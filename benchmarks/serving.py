"""The REST/WebSocket server in this process, API tokens, and load generators in their own processes."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from benchmarks.env import ROOT, BenchEnv
from jobdesk.core.heap import settle_heap
from jobdesk.server.runtime import Server, start_server
from jobdesk.store import tokens
from jobdesk.store.db import connect_sync

USER = ORG = "bench"


async def serve(env: BenchEnv) -> Server:
    """The server as `jobdesk serve` runs it, on free ports; no local workers (scenarios start theirs)."""
    server = await start_server(
        env.settings(), env.registry(), local_workers=0, host="127.0.0.1", api_port=0, ws_port=0
    )
    settle_heap()  # as jobdesk serve does once it is up
    return server


def token(env: BenchEnv, user: str = USER, org: str = ORG, admin: bool = False) -> str:
    with connect_sync(env.database_url) as conn:
        value, _ = tokens.create(conn, user, org, is_admin=admin, name=f"bench {user}")
    return value


async def loadgen(env: BenchEnv, *args: str, timeout: float = 600) -> Any:
    """Run `python -m benchmarks.loadgen ARGS` to the end; its JSON result."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "benchmarks.loadgen",
        *args,
        cwd=ROOT,
        env=env.environ,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"loadgen {args[0]} failed ({proc.returncode}): {err.decode()[-2000:]}")
    return json.loads(out.decode().strip().splitlines()[-1])


class WsListener:
    """A WebSocket client process collecting progress-event latencies."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(
        cls, env: BenchEnv, url: str, token: str, idle: float = 2.0, max_s: float = 300
    ) -> WsListener:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "benchmarks.loadgen",
            "ws",
            "--url",
            url,
            "--token",
            token,
            "--idle",
            str(idle),
            "--max",
            str(max_s),
            cwd=ROOT,
            env=env.environ,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        if line.strip() != b"ready":
            err = await proc.stderr.read() if proc.stderr else b""
            raise RuntimeError(f"the WebSocket client did not connect: {line!r} {err.decode()[-2000:]}")
        return cls(proc)

    async def result(self, timeout: float = 600) -> dict[str, Any]:
        out, err = await asyncio.wait_for(self.proc.communicate(), timeout)
        if self.proc.returncode != 0:
            raise RuntimeError(f"the WebSocket client failed: {err.decode()[-2000:]}")
        return json.loads(out.decode().strip().splitlines()[-1])
