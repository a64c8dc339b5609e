"""Shared fixtures: a database and a Redis namespace of this run's own, real workers.

Qt must be told to draw offscreen before anything imports it, or pytest-qt
aborts the whole run on a machine without a display.
"""

from __future__ import annotations

import asyncio
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from jobdesk.config import Settings, load_settings
from jobdesk.core.registry import load_job_modules, registry
from jobdesk.store import migrate
from jobdesk.store.db import drop_database
from tests.support.workers import WorkerProcess

BASE_URL = os.environ.get("JOBDESK_TEST_DATABASE_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("JOBDESK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RUN_ID = uuid.uuid4().hex[:8]

# Engine timings shortened so that recovery tests take seconds, not minutes.
TEST_ENV = {
    "JOBDESK_WORKER_HEARTBEAT_S": "0.5",
    "JOBDESK_WORKER_DEAD_AFTER_S": "3",
    "JOBDESK_REDISPATCH_AFTER_S": "6",
    "JOBDESK_CANCEL_POLL_S": "0.1",
    "JOBDESK_CANCEL_GRACE_S": "1.0",
    "JOBDESK_BACKOFF_BASE_S": "0.2",
    "JOBDESK_BACKOFF_CAP_S": "5",
    "JOBDESK_DISPATCH_TICK_S": "0.05",
    "JOBDESK_PROGRESS_INTERVAL_S": "0.05",
    "JOBDESK_JOB_MODULES": "tests.support.jobs",
}


@pytest.fixture(scope="session")
def test_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Environment for this run: its own database and Redis namespace, removed at the end."""
    db = f"jobdesk_test_{RUN_ID}"
    namespace = f"jobdesk-test-{RUN_ID}"
    env = {
        **TEST_ENV,
        "JOBDESK_DATABASE_URL": f"{BASE_URL}/{db}",
        "JOBDESK_REDIS_URL": REDIS_URL,
        "JOBDESK_NAMESPACE": namespace,
        "JOBDESK_DATA_DIR": str(tmp_path_factory.mktemp("data")),
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield env
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        drop_database(env["JOBDESK_DATABASE_URL"])
        flush_namespace(REDIS_URL, namespace)


def flush_namespace(url: str, namespace: str) -> int:
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{namespace}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()
    return len(keys)


@pytest.fixture(scope="session")
def settings(test_env: dict[str, str]) -> Settings:
    s = load_settings()
    migrate.upgrade(s.database_url)
    with psycopg.connect(s.database_url, autocommit=True) as conn:
        conn.execute(Path(__file__).with_name("support").joinpath("schema.sql").read_text().encode())
    load_job_modules(s.job_module_list)
    return s


def _truncate(settings: Settings) -> None:
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute("TRUNCATE jobs, workers, queues, test_executions CASCADE")
    flush_namespace(settings.redis, settings.namespace)


@pytest.fixture
async def clean(settings: Settings) -> AsyncIterator[Settings]:
    """Empty tables and namespace before a test that counts what it finds.

    In a thread: TRUNCATE waits for the locks of open transactions, and a
    server started by a package fixture runs on this event loop; blocking the
    loop while waiting for it would wait forever.
    """
    await asyncio.to_thread(_truncate, settings)
    yield settings


@pytest.fixture
async def engine(clean: Settings) -> AsyncIterator[object]:
    from jobdesk.service.engine import Engine

    eng = await Engine.start(clean, registry)
    try:
        yield eng
    finally:
        await eng.stop()


@pytest.fixture
def workers(clean: Settings) -> Iterator[WorkerProcess]:
    """A factory-style handle: `workers.start(processes, threads)`; all stopped afterwards."""
    handle = WorkerProcess(dict(os.environ))
    try:
        yield handle
    finally:
        handle.stop_all()
