"""Group commit of a worker process's state writes.

Every worker thread hands its writes (start, progress, finish) to one writer
thread, which applies whatever has queued up in one transaction, then
immediately the next batch. Under load a batch holds many jobs; when idle a
write goes out alone at once.

Nothing here holds up a handler. A start is recorded after the worker
checked the job with a read (see checker.py); when the job finishes before
its start was taken, the two become one row update, which keeps short jobs
at two writes each (claim, finish) instead of three.

A worker thread hands over its job's outcome and takes its next message
while the outcome commits with others (write-behind). Waiting for each
commit capped a thread at one job per commit, a third of the throughput, so
the message may be acked a few milliseconds before the outcome is durable.
If the worker process dies in that gap, the job is left active (the
reconciler counts a lost attempt and retries it) or dispatched with no
message (the reconciler finds the message gone and dispatches it again):
never lost, at worst run twice, which is the at-least-once promise every
Dramatiq handler already lives with. A shutdown writes everything first.
The backlog is bounded: past `BACKLOG_MAX` outcomes not yet taken, threads
wait, so a slow database slows the workers instead of filling memory.
Batches without a finish commit without waiting for the disk, for the
same reason.
Progress is coalesced per job, the latest value winning: on average at most
one write per `progress_interval_s` per job, with a burst of two so that a
report arriving a little early does not wait a whole interval (the first
report is written at once, and a finish always carries the last one).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import DictRow

from jobdesk.store.db import connect_sync
from jobdesk.store.sql import q

log = logging.getLogger(__name__)

BACKLOG_MAX = 500
# Progress writes a job may make back to back before the interval applies.
PROGRESS_BURST = 2.0


@dataclass(slots=True)
class Finish:
    job_id: str
    token: int
    outcome: str  # completed | failed | cancelled | retry
    result: Any = None
    error: dict[str, Any] | None = None
    delay_s: float | None = None
    progress: tuple[int, int, str | None] | None = None
    # how long the handler ran, to record the start when it was never written alone
    ran_for_s: float = 0.0


@dataclass(slots=True)
class _Progress:
    token: int
    current: int
    total: int
    message: str | None
    due: float


class StateWriter:
    def __init__(self, url: str, worker_id: str, progress_interval_s: float) -> None:
        self.url = url
        self.worker_id = worker_id
        self.progress_interval_s = progress_interval_s
        lock = threading.Lock()
        self._cond = threading.Condition(lock)  # wakes the writer
        self._room = threading.Condition(lock)  # wakes threads waiting for backlog room
        # job id -> (token, monotonic time the handler began)
        self._starts: dict[str, tuple[int, float]] = {}
        self._finishes: list[Finish] = []
        self._progress: dict[str, _Progress] = {}
        # job id -> (progress writes it may make now, when that was computed)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="jobdesk-writer", daemon=True)
        self._conn: psycopg.Connection[DictRow] | None = None
        self.batches = 0

    def start(self) -> None:
        self._conn = connect_sync(self.url, by_id=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(timeout)
        if self._conn is not None:
            self._conn.close()

    # -- called from worker threads -------------------------------------------------

    def started(self, job_id: str, token: int, began: float) -> None:
        """Record, without waiting, that a checked job began at `began` (monotonic)."""
        with self._cond:
            self._starts[job_id] = (token, began)
            self._cond.notify()

    def progress(self, job_id: str, token: int, current: int, total: int, message: str | None) -> None:
        now = time.monotonic()
        with self._cond:
            pending = self._progress.get(job_id)
            if pending is not None:
                # A write is already scheduled: the latest value rides on it, at its time.
                self._progress[job_id] = _Progress(token, current, total, message, pending.due)
                return
            # A token bucket rather than "one interval after the last write": that
            # rule made every report wait for the lag of the one before, so the
            # delay crept up to a whole interval; a spare token absorbs the jitter.
            tokens, stamp = self._buckets.get(job_id, (PROGRESS_BURST, now))
            tokens = min(PROGRESS_BURST, tokens + (now - stamp) / self.progress_interval_s)
            due = now if tokens >= 1 else now + (1 - tokens) * self.progress_interval_s
            # Spent now, or (below zero) the one that will have accrued by `due`.
            self._buckets[job_id] = (tokens - 1, now)
            self._progress[job_id] = _Progress(token, current, total, message, due)
            if due <= now:
                self._cond.notify()

    def finish(self, item: Finish) -> None:
        """Queue a job's outcome; it is written with the next batch."""
        with self._cond:
            while len(self._finishes) >= BACKLOG_MAX and not self._stopping:
                self._room.wait(0.1)
            self._progress.pop(item.job_id, None)
            self._buckets.pop(item.job_id, None)
            self._finishes.append(item)
            self._cond.notify()

    # -- the writer thread ---------------------------------------------------------------

    def _take(self) -> tuple[list, list, list[tuple[str, _Progress]]] | None:
        with self._cond:
            while True:
                now = time.monotonic()
                due = [(k, p) for k, p in self._progress.items() if p.due <= now]
                if self._starts or self._finishes or due:
                    finishes, self._finishes = self._finishes, []
                    self._room.notify_all()
                    # A start whose finish is already here is written by the finish.
                    for f in finishes:
                        self._starts.pop(f.job_id, None)
                    starts = [(j, t, now - began) for j, (t, began) in self._starts.items()]
                    self._starts = {}
                    for k, _ in due:
                        del self._progress[k]
                    return starts, finishes, due
                if self._stopping:
                    return None
                wait = min((p.due for p in self._progress.values()), default=now + 1.0) - now
                self._cond.wait(max(0.001, wait))

    def _loop(self) -> None:
        while True:
            work = self._take()
            if work is None:
                return
            starts, finishes, progress = work
            delay = 0.05
            while True:
                try:
                    self._apply(starts, finishes, progress)
                    break
                except psycopg.Error as exc:
                    # Never drop a write: PostgreSQL away or a deadlock broken, try again.
                    log.warning("state write failed (%s); retrying in %.2fs", exc, delay)
                    time.sleep(delay)
                    delay = min(delay * 2, 5.0)
                    self._reconnect()
                except Exception:
                    # A bug: drop the batch rather than stop writing. Its jobs are
                    # left active or dispatched, and the reconciler re-runs them.
                    log.exception("state write failed")
                    break

    def _reconnect(self) -> None:
        try:
            if self._conn is not None:
                self._conn.close()
            self._conn = connect_sync(self.url, by_id=True)
        except Exception as exc:
            log.warning("writer cannot reconnect: %s", exc)

    def _apply(self, starts: list, finishes: list[Finish], progress: list[tuple[str, _Progress]]) -> None:
        conn = self._conn
        assert conn is not None
        with conn.transaction():
            if not finishes:
                conn.execute("SET LOCAL synchronous_commit = off")
            if starts:
                conn.execute(
                    q("start_jobs"),
                    {
                        "ids": [uuid.UUID(j) for j, _, _ in starts],
                        "tokens": [t for _, t, _ in starts],
                        "ages": [a for _, _, a in starts],
                        "worker_id": self.worker_id,
                    },
                )
            if progress:
                conn.execute(
                    q("progress_jobs"),
                    {
                        "ids": [uuid.UUID(k) for k, _ in progress],
                        "tokens": [p.token for _, p in progress],
                        "currents": [p.current for _, p in progress],
                        "totals": [p.total for _, p in progress],
                        "messages": [p.message for _, p in progress],
                    },
                )
            if finishes:
                conn.execute(
                    q("finish_jobs"),
                    {
                        "rows": finish_rows(finishes),
                        "ids": [f.job_id for f in finishes],
                        "worker_id": self.worker_id,
                    },
                )
        self.batches += 1


def finish_rows(items: list[Finish]) -> str:
    """The outcomes as one JSON array (finish_jobs parses it in C; arrays per
    column cost the worker more Python than the rest of its write)."""
    rows = [
        {
            "id": f.job_id,
            "token": f.token,
            "outcome": f.outcome,
            "result": f.result,
            "error": f.error,
            "delay_s": f.delay_s,
            "cur": f.progress[0] if f.progress else None,
            "tot": f.progress[1] if f.progress else None,
            "msg": f.progress[2] if f.progress else None,
            "ran_for_s": f.ran_for_s,
        }
        for f in items
    ]
    try:
        return json.dumps(rows, default=str, allow_nan=False)
    except (ValueError, RecursionError):
        # A result PostgreSQL would refuse (NaN, infinity, a cycle) must not
        # block the batch it rides in: that one result is kept as text.
        for row in rows:
            try:
                json.dumps(row["result"], default=str, allow_nan=False)
            except (ValueError, RecursionError):
                log.warning("job %s returned a result that is not JSON; stored as text", row["id"])
                row["result"] = repr(row["result"])[:10_000]
        return json.dumps(rows, default=str, allow_nan=False)
