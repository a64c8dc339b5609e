"""Real `jobdesk worker` processes for tests, and ways to wait on the database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[2]


class WorkerProcess:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = {**env, "PYTHONPATH": f"{ROOT}{os.pathsep}{env.get('PYTHONPATH', '')}"}
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(
        self,
        processes: int = 1,
        threads: int = 2,
        queues: str = "",
        wait: bool = True,
        env: dict[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:
        before = set(self.live_ids())
        args = [
            sys.executable,
            "-m",
            "jobdesk",
            "worker",
            "--processes",
            str(processes),
            "--threads",
            str(threads),
        ]
        if queues:
            args += ["--queues", queues]
        proc = subprocess.Popen(args, env={**self.env, **(env or {})}, cwd=ROOT, start_new_session=True)
        self.procs.append(proc)
        if wait:
            # New ids, not a count: a killed worker may still look live for a few seconds.
            wait_for(
                lambda: len(set(self.live_ids()) - before) >= processes,
                timeout=60,
                what="workers to register",
            )
        return proc

    def live_count(self) -> int:
        with psycopg.connect(self.env["JOBDESK_DATABASE_URL"], autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM workers WHERE stopped_at IS NULL"
                " AND heartbeat_at > now() - interval '3 seconds'"
            ).fetchone()
        return int(row[0]) if row else 0

    def live_ids(self) -> list[str]:
        with psycopg.connect(self.env["JOBDESK_DATABASE_URL"], autocommit=True) as conn:
            rows = conn.execute(
                "SELECT id FROM workers WHERE stopped_at IS NULL"
                " AND heartbeat_at > now() - interval '3 seconds'"
            ).fetchall()
        return [r[0] for r in rows]

    def worker_pids(self) -> list[int]:
        with psycopg.connect(self.env["JOBDESK_DATABASE_URL"], autocommit=True) as conn:
            rows = conn.execute("SELECT pid FROM workers WHERE stopped_at IS NULL").fetchall()
        return [r[0] for r in rows]

    def stop_all(self, timeout: float = 15) -> None:
        for p in self.procs:
            if p.poll() is None:
                # The supervisor forwards SIGTERM to its children; a second
                # signal to them would make Dramatiq kill them mid-shutdown.
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for p in self.procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        self.procs.clear()


def wait_for(
    predicate: Callable[[], Any], timeout: float = 30, interval: float = 0.05, what: str = "condition"
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def query(url: str, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()
