"""The read a worker makes before it runs a message, done ahead and in batches.

Before a handler runs, its job must still be pending under the message's
dispatch token: a duplicate, a stale redelivery or a job cancelled while
queued must not run. Asking when a thread picks the message up made every
job wait for a round trip, so the question is asked as soon as Redis hands
the message to the worker (`prefetch`), for all the messages of a fetch in
one query, while they wait in the worker's queue. By the time a thread takes
one, its answer is usually there.

An answer can go stale while the message waits: the job may be cancelled,
or recalled for a more urgent one. Every such change notifies
`jobdesk_revoked` with the job's id (store/sql/queries.sql); this module
listens, and a job revoked after its answer was asked for is asked again
when its thread takes it. What remains is the moment between that last
check and the handler's start, as before; a job cancelled in it is refused
its start and stopped by the monitor.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import DictRow

from jobdesk.store.db import connect_sync
from jobdesk.store.sql import q

log = logging.getLogger(__name__)

Row = dict[str, Any]
REVOKED_CHANNEL = "jobdesk_revoked"
# Answers and revocations older than this are forgotten (a message prefetched
# and never taken, e.g. at shutdown; a revocation long past any prefetch).
FORGET_AFTER_S = 60.0


@dataclass(slots=True)
class _Answer:
    future: Future[Row | None]
    asked_at: float


class StartChecker:
    def __init__(self, url: str) -> None:
        self.url = url
        self._cond = threading.Condition()
        self._asks: list[tuple[str, int, Future[Row | None]]] = []
        self._answers: dict[tuple[str, int], _Answer] = {}
        self._revoked: dict[str, float] = {}
        self._forgotten_at = time.monotonic()
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="jobdesk-checker", daemon=True)
        self._listener = threading.Thread(target=self._listen, name="jobdesk-revocations", daemon=True)
        self._conn: psycopg.Connection[DictRow] | None = None
        self._listen_conn: psycopg.Connection[DictRow] | None = None

    def start(self) -> None:
        self._conn = connect_sync(self.url, by_id=True)
        self._listen_conn = connect_sync(self.url)
        self._listen_conn.execute(f"LISTEN {REVOKED_CHANNEL}")
        self._thread.start()
        self._listener.start()

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(timeout)
        self._listener.join(timeout)
        for conn in (self._conn, self._listen_conn):
            if conn is not None:
                conn.close()

    # -- called from the consumer and worker threads ------------------------------------

    def prefetch(self, job_id: str, token: int) -> None:
        """Ask, without waiting, whether this message may run its job."""
        with self._cond:
            if self._stopping or (job_id, token) in self._answers:
                return
            fut: Future[Row | None] = Future()
            self._answers[(job_id, token)] = _Answer(fut, time.monotonic())
            self._asks.append((job_id, token, fut))
            self._cond.notify()

    def check(self, job_id: str, token: int) -> Row | None:
        """The job's row if this message may run it, else None."""
        with self._cond:
            if self._stopping:
                raise RuntimeError("the worker is stopping")
            answer = self._answers.pop((job_id, token), None)
            revoked_at = self._revoked.get(job_id)
            if answer is None or (revoked_at is not None and revoked_at >= answer.asked_at):
                fut: Future[Row | None] = Future()
                self._asks.append((job_id, token, fut))
                self._cond.notify()
            else:
                fut = answer.future
        return fut.result()

    # -- the checker thread --------------------------------------------------------------

    def _take(self) -> list[tuple[str, int, Future[Row | None]]] | None:
        with self._cond:
            # Busy or idle: a worker that never idles must still forget.
            self._forget_old()
            while not self._asks:
                if self._stopping:
                    return None
                self._cond.wait(1.0)
                self._forget_old()
            asks, self._asks = self._asks, []
            return asks

    def _forget_old(self) -> None:
        now = time.monotonic()
        if now - self._forgotten_at < FORGET_AFTER_S:
            return
        self._forgotten_at = now
        self._answers = {k: a for k, a in self._answers.items() if now - a.asked_at < FORGET_AFTER_S}
        self._revoked = {k: t for k, t in self._revoked.items() if now - t < FORGET_AFTER_S}

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
                row = rows.get(job_id)
                fut.set_result(row if row is not None and row["dispatch_token"] == token else None)

    def _query(self, asks: list[tuple[str, int, Future[Row | None]]]) -> dict[str, Row]:
        assert self._conn is not None
        cur = self._conn.execute(
            q("startable_jobs"),
            {"ids": [uuid.UUID(j) for j, _, _ in asks], "tokens": [t for _, t, _ in asks]},
        )
        return {str(r["id"]): r for r in cur.fetchall()}

    def _reconnect(self) -> None:
        try:
            if self._conn is not None:
                self._conn.close()
            self._conn = connect_sync(self.url, by_id=True)
        except Exception as exc:
            log.warning("start checker cannot reconnect: %s", exc)

    # -- the revocation listener -----------------------------------------------------------

    def _listen(self) -> None:
        while not self._stopping:
            conn = self._listen_conn
            try:
                assert conn is not None
                for n in conn.notifies(timeout=0.5, stop_after=256):
                    self._revoke(n.payload)
            except Exception as exc:
                if self._stopping:
                    return
                log.warning("revocation listener lost PostgreSQL (%s); reconnecting", exc)
                self._relisten()

    def _revoke(self, job_id: str) -> None:
        with self._cond:
            self._revoked[job_id] = time.monotonic()

    def _relisten(self) -> None:
        # Revocations may have been missed while away: distrust every answer so far.
        with self._cond:
            self._answers.clear()
        try:
            if self._listen_conn is not None:
                self._listen_conn.close()
            self._listen_conn = connect_sync(self.url)
            self._listen_conn.execute(f"LISTEN {REVOKED_CHANNEL}")
        except Exception as exc:
            log.warning("revocation listener cannot reconnect: %s", exc)
            time.sleep(1.0)
