"""A private place to measure in: its own database, Redis namespaces and worker processes.

    env = BenchEnv.create()
    try:
        env.start_workers(processes=2, threads=8)   # real `jobdesk worker` processes
        ...
    finally:
        env.close()                                 # workers stopped, database dropped, keys deleted

Every process a benchmark starts reads the same environment (`env.environ`):
JOBDESK_DATABASE_URL / JOBDESK_NAMESPACE / JOBDESK_JOB_MODULES=benchmarks.jobs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import psycopg
import redis

from jobdesk.cli.worker import WORKER_ENV
from jobdesk.config import Settings, load_settings
from jobdesk.core.registry import Registry, load_job_modules
from jobdesk.store import migrate
from jobdesk.store.db import drop_database

ROOT = Path(__file__).resolve().parents[1]
ADMIN_URL = os.environ.get("JOBDESK_BENCH_DATABASE_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("JOBDESK_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
JOB_MODULES = "benchmarks.jobs"


def wait_for(
    predicate: Callable[[], Any], timeout: float = 60, interval: float = 0.05, what: str = ""
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what or 'a condition'}")
        time.sleep(interval)


def flush_namespace(url: str, namespace: str) -> int:
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{namespace}:*", count=1000))
        for i in range(0, len(keys), 1000):
            client.delete(*keys[i : i + 1000])
        return len(keys)
    finally:
        client.close()


@dataclass
class ProcessGroup:
    """A supervisor process started in its own session, and the processes under it."""

    name: str
    proc: subprocess.Popen[bytes]
    processes: int
    threads: int
    log_path: Path
    probe_dir: Path | None = None

    def commits(self) -> int:
        """Group commits of the workers' state writers so far (see benchmarks/jobs.py)."""
        from benchmarks.jobs import read_probes

        return read_probes(self.probe_dir) if self.probe_dir else 0

    def pids(self) -> list[int]:
        """The supervisor and every descendant (Dramatiq's worker processes)."""
        try:
            top = psutil.Process(self.proc.pid)
            return [top.pid, *(c.pid for c in top.children(recursive=True))]
        except psutil.NoSuchProcess:
            return []

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 15) -> None:
        if self.proc.poll() is None:
            # The supervisor forwards SIGTERM to its children.
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class BenchEnv:
    run_id: str
    database_url: str
    redis_url: str
    namespace: str
    bare_namespace: str
    data_dir: Path
    keep: bool = False
    workers: ProcessGroup | None = None
    bare: ProcessGroup | None = None
    _saved_environ: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def create(cls, keep: bool = False) -> BenchEnv:
        run_id = uuid.uuid4().hex[:8]
        env = cls(
            run_id=run_id,
            database_url=f"{ADMIN_URL}/jobdesk_bench_{run_id}",
            redis_url=REDIS_URL,
            namespace=f"jobdesk-bench-{run_id}",
            bare_namespace=f"jobdesk-bench-{run_id}-bare",
            data_dir=Path(tempfile.mkdtemp(prefix=f"jobdesk-bench-{run_id}-")),
            keep=keep,
        )
        # This process hosts the engine or the server; whatever it starts inherits these.
        for key, value in env.jobdesk_environ().items():
            env._saved_environ[key] = os.environ.get(key)
            os.environ[key] = value
        migrate.upgrade(env.database_url)
        return env

    # -- settings and environment ------------------------------------------------------------

    def jobdesk_environ(self) -> dict[str, str]:
        return {
            "JOBDESK_DATABASE_URL": self.database_url,
            "JOBDESK_REDIS_URL": self.redis_url,
            "JOBDESK_NAMESPACE": self.namespace,
            "JOBDESK_JOB_MODULES": JOB_MODULES,
            "JOBDESK_DATA_DIR": str(self.data_dir),
        }

    @property
    def environ(self) -> dict[str, str]:
        """The environment of every child process."""
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
        return {**os.environ, **self.jobdesk_environ(), "PYTHONPATH": path}

    @property
    def database_name(self) -> str:
        return self.database_url.rsplit("/", 1)[1]

    def settings(self, **overrides: Any) -> Settings:
        return load_settings(**overrides)

    def registry(self) -> Registry:
        return load_job_modules([JOB_MODULES])

    def connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.database_url, autocommit=True)

    def reset(self) -> None:
        """No jobs and no messages: the state a scenario starts from (running workers stay)."""
        with self.connect() as conn:
            conn.execute("TRUNCATE jobs, queues CASCADE")
        flush_namespace(self.redis_url, self.namespace)

    # -- worker processes ------------------------------------------------------------------------

    def start_workers(self, processes: int, threads: int, queues: str = "") -> ProcessGroup:
        """`jobdesk worker` as a user runs it; returns once every process has registered."""
        if self.workers is not None:
            same = (self.workers.processes, self.workers.threads) == (processes, threads)
            if same and self.workers.alive():
                return self.workers
            self.stop_workers()
        before = self._live_workers()
        args = [sys.executable, "-m", "jobdesk", "worker", "--processes", str(processes)]
        args += ["--threads", str(threads)]
        if queues:
            args += ["--queues", queues]
        probe = self.data_dir / f"probe-{time.time_ns()}"
        probe.mkdir()
        group = self._spawn(
            "workers", args, {**self.environ, "BENCH_PROBE_DIR": str(probe)}, processes, threads
        )
        group.probe_dir = probe
        self.workers = group
        wait_for(
            lambda: self._check(group) and self._live_workers() >= before + processes,
            timeout=90,
            what=f"{processes} jobdesk worker processes to register",
        )
        return group

    def stop_workers(self) -> None:
        if self.workers is not None:
            self.workers.stop()
            self.workers = None
            with self.connect() as conn:
                conn.execute("DELETE FROM workers")

    def _live_workers(self) -> int:
        with self.connect() as conn:
            row = conn.execute(
                "SELECT count(*) FROM workers WHERE stopped_at IS NULL"
                " AND heartbeat_at > now() - interval '5 seconds'"
            ).fetchone()
        return int(row[0]) if row else 0

    def start_bare(self, processes: int, threads: int) -> ProcessGroup:
        """Plain Dramatiq on the same Redis: `dramatiq benchmarks.bare`, with jobdesk's worker env."""
        if self.bare is not None:
            same = (self.bare.processes, self.bare.threads) == (processes, threads)
            if same and self.bare.alive():
                return self.bare
            self.stop_bare()
        flush_namespace(self.redis_url, self.bare_namespace)
        environ = {
            **self.environ,
            **WORKER_ENV,
            "BENCH_BARE_NAMESPACE": self.bare_namespace,
            "BENCH_REDIS_URL": self.redis_url,
        }
        args = [sys.executable, "-m", "dramatiq", "benchmarks.bare", "--processes", str(processes)]
        args += ["--threads", str(threads)]
        group = self._spawn("bare", args, environ, processes, threads)
        self.bare = group
        client = redis.Redis.from_url(self.redis_url)
        try:
            # Each worker process stamps its broker id in the heartbeat set at every fetch.
            wait_for(
                lambda: (
                    self._check(group) and client.zcard(f"{self.bare_namespace}:__heartbeats__") >= processes
                ),
                timeout=90,
                what=f"{processes} bare Dramatiq processes to start",
            )
        finally:
            client.close()
        return group

    def stop_bare(self) -> None:
        if self.bare is not None:
            self.bare.stop()
            self.bare = None
            flush_namespace(self.redis_url, self.bare_namespace)

    def _spawn(
        self, name: str, args: list[str], environ: dict[str, str], processes: int, threads: int
    ) -> ProcessGroup:
        log_path = self.data_dir / f"{name}-{processes}x{threads}-{int(time.time() * 1000)}.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                args, env=environ, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        return ProcessGroup(name, proc, processes, threads, log_path)

    @staticmethod
    def _check(group: ProcessGroup) -> bool:
        if not group.alive():
            raise RuntimeError(f"{group.name} exited with {group.proc.returncode}:\n{group.log_tail()}")
        return True

    # -- PostgreSQL's side of the cost -------------------------------------------------------------

    def backend_pids(self) -> list[int]:
        """The PostgreSQL backends serving this benchmark's database."""
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchall()
        return [int(r[0]) for r in rows]

    # -- the end ---------------------------------------------------------------------------------

    def close(self) -> None:
        errors: list[str] = []
        for stop in (self.stop_workers, self.stop_bare):
            try:
                stop()
            except Exception as exc:
                errors.append(f"{stop.__name__}: {exc}")
        for key, value in self._saved_environ.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if not self.keep:
            try:
                drop_database(self.database_url)
            except Exception as exc:
                errors.append(f"drop database: {exc}")
            for ns in (self.namespace, self.bare_namespace):
                try:
                    flush_namespace(self.redis_url, ns)
                except Exception as exc:
                    errors.append(f"flush {ns}: {exc}")
            shutil.rmtree(self.data_dir, ignore_errors=True)
        if errors:
            print("benchmark clean-up: " + "; ".join(errors), file=sys.stderr)
