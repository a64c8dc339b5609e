"""Where PostgreSQL's time goes: pg_stat_activity sampled every few milliseconds.

A poor man's profiler for a database without pg_stat_statements: each sample
counts the benchmark database's non-idle backends by statement (named after
jobdesk's named queries where it is one of them), state and wait event. A
statement's share of the samples is its share of the backends' busy time,
waits included: `COMMIT` waiting on `Lock:object` is a commit queued behind
another transaction's NOTIFY; on `IO:WALSync`, the flush of the WAL.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from typing import Any

import psycopg

from jobdesk.store.sql import queries

_PARAM = re.compile(r"%\(\w+\)s|\$\d+")
_SPACE = re.compile(r"\s+")
PREFIX = 60


def _normal(text: str) -> str:
    return _SPACE.sub(" ", _PARAM.sub("?", text)).strip()[:PREFIX]


class PgProfile:
    def __init__(self, url: str, database: str, interval_s: float = 0.01) -> None:
        self.url = url
        self.database = database
        self.interval_s = interval_s
        self.names = {_normal(text): name for name, text in queries().items()}
        self.counts: Counter[tuple[str, str, str]] = Counter()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bench-pgprofile", daemon=True)

    def name(self, query: str) -> str:
        text = _normal(query)
        return self.names.get(text) or text

    def _loop(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self._stop.is_set():
                rows = conn.execute(
                    "SELECT query, state, coalesce(wait_event_type || ':' || wait_event, '')"
                    " FROM pg_stat_activity"
                    " WHERE datname = %s AND state <> 'idle' AND pid <> pg_backend_pid()",
                    (self.database,),
                ).fetchall()
                self.samples += 1
                for query, state, wait in rows:
                    self.counts[(self.name(query or ""), state or "", wait)] += 1
                time.sleep(self.interval_s)

    def start(self) -> PgProfile:
        self._thread.start()
        return self

    def stop(self, top: int = 15) -> dict[str, Any]:
        self._stop.set()
        self._thread.join(5)
        busy = sum(self.counts.values())
        return {
            "samples": self.samples,
            "busy_backend_samples": busy,
            "mean_busy_backends": round(busy / self.samples, 2) if self.samples else None,
            "top": [
                {"statement": q, "state": s, "wait": w, "share": round(n / busy, 3)}
                for (q, s, w), n in self.counts.most_common(top)
            ]
            if busy
            else [],
        }
