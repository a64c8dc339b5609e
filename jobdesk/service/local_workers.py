"""Local worker processes, started and stopped with the server or the window."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys

log = logging.getLogger(__name__)


class LocalWorkers:
    """One `jobdesk worker` supervisor process running N Dramatiq worker processes."""

    def __init__(
        self,
        processes: int,
        threads: int = 8,
        job_modules: list[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.processes = processes
        self.threads = threads
        self.job_modules = job_modules or []
        # Settings the workers must share with their server (database, namespace,
        # ...) when they were given in code rather than in the environment.
        self.env = env or {}
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self) -> None:
        if self.processes <= 0 or self.running:
            return
        args = [
            sys.executable,
            "-m",
            "jobdesk",
            "worker",
            "--processes",
            str(self.processes),
            "--threads",
            str(self.threads),
        ]
        for m in self.job_modules:
            args += ["--jobs-module", m]
        # A new session: a Ctrl-C in the terminal reaches the server, which then
        # stops the workers itself, in order, instead of both racing.
        self.proc = await asyncio.create_subprocess_exec(
            *args, start_new_session=True, env={**os.environ, **self.env}
        )
        log.info("started %d local worker processes (pid %d)", self.processes, self.proc.pid)

    async def stop(self, timeout: float = 8.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            log.warning("local workers did not stop in %.0fs; killing them", timeout)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
