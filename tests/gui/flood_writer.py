"""`python -m tests.gui.flood_writer URL RATE SECONDS ID...`: progress writes with notifications, paced.

A process of its own, as a worker is, so the console's process (and its GIL)
only receives. Prints how many it sent.
"""

from __future__ import annotations

import sys
import time

import psycopg

TICK_S = 0.01

UPDATE = """
WITH u AS (
    UPDATE jobs SET progress_current = progress_current + 1,
                    progress_message = 'step ' || (progress_current + 1),
                    updated_at = clock_timestamp()
    WHERE id = ANY(%s::uuid[]) RETURNING id
)
SELECT pg_notify('jobdesk_events', 'job-update:' || id) FROM u
"""


def flood(url: str, rate: int, seconds: float, ids: list[str]) -> int:
    per_tick = max(1, int(rate * TICK_S))
    sent = 0
    with psycopg.connect(url, autocommit=True) as conn:
        start = time.monotonic()
        tick = 0
        while time.monotonic() - start < seconds:
            chunk = [ids[(tick * per_tick + i) % len(ids)] for i in range(per_tick)]
            conn.execute(UPDATE, (chunk,))
            sent += len(chunk)
            tick += 1
            delay = start + tick * TICK_S - time.monotonic()
            if delay > 0:
                time.sleep(delay)
    return sent


if __name__ == "__main__":
    url, rate, seconds, *job_ids = sys.argv[1:]
    print(flood(url, int(rate), float(seconds), job_ids))
