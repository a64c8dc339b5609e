"""The read a worker makes before it runs a message, batched across its threads.

Before a handler runs, its job must still be pending under the message's
dispatch token: a duplicate, a stale redelivery or a job cancelled while
queued must not run. Every worker thread asks at the same moments (a burst of
short jobs), so one thread with its own connection answers all the questions
that queued up with one query, instead of one statement per job.
"""

from __future__ import annotations

import logging
import threading
import uuid
from concurrent.futures import Future
from typing import Any

import psycopg

from jobdesk.store.db import connect_sync
from jobdesk.store.sql import q

log = logging.getLogger(__name__)

Row = dict[str, Any]


class StartChecker:
    def __init__(self, url: str) -> None:
        self.url = url
        self._cond = threading.Condition()
        self._asks: list[tuple[str, int, Future[Row | None]]] = []
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="jobdesk-checker", daemon=True)
        self._conn: psycopg.Connection | None = None
        self.queries = 0

    def start(self) -> None:
        self._conn = connect_sync(self.url)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(timeout)
        if self._conn is not None:
            self._conn.close()

    def check(self, job_id: str, token: int) -> Row | None:
        """The job's row if this message may run it, else None."""
        fut: Future[Row | None] = Future()
        with self._cond:
            if self._stopping:
                raise RuntimeError("the worker is stopping")
            self._asks.append((job_id, token, fut))
            self._cond.notify()
        return fut.result()

    def _take(self) -> list[tuple[str, int, Future[Row | None]]] | None:
        with self._cond:
            while not self._asks:
                if self._stopping:
                    return None
                self._cond.wait()
            asks, self._asks = self._asks, []
            return asks

    def _loop(self) -> None:
        while (asks := self._take()) is not None:
            try:
                rows = self._query(asks)
            except Exception as exc:
                # The thread that asked turns this into a failed message, which
                # Dramatiq retries; PostgreSQL being away must not hang it.
                for *_, fut in asks:
                    fut.set_exception(exc)
                self._reconnect()
                continue
            for job_id, token, fut in asks:
                # pop: two copies of one message in one batch run once.
                row = rows.pop(job_id, None)
                fut.set_result(row if row is not None and row["dispatch_token"] == token else None)

    def _query(self, asks: list[tuple[str, int, Future[Row | None]]]) -> dict[str, Row]:
        assert self._conn is not None
        self.queries += 1
        cur = self._conn.execute(
            q("startable_jobs"),
            {"ids": [uuid.UUID(j) for j, _, _ in asks], "tokens": [t for _, t, _ in asks]},
        )
        return {str(r["id"]): r for r in cur.fetchall()}

    def _reconnect(self) -> None:
        try:
            if self._conn is not None:
                self._conn.close()
            self._conn = connect_sync(self.url)
        except Exception as exc:
            log.warning("start checker cannot reconnect: %s", exc)
