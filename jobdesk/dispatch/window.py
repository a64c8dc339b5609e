"""How many messages may be in flight: the trade between throughput and priority.

A message dispatched to Redis can no longer be overtaken by a more urgent
job, so the window should be as small as keeps the workers busy. It is sized
by time: enough messages per worker thread to cover `window_s` of work at the
queue's recent mean job duration, plus the one running. Millisecond jobs get
a deep window (throughput), second-long jobs get one spare (priority).
"""

from __future__ import annotations

import math

DEFAULT_PER_THREAD = 2


def per_thread(mean_duration_s: float | None, window_s: float, maximum: int) -> int:
    if mean_duration_s is None:
        return DEFAULT_PER_THREAD
    if mean_duration_s <= 0:
        return maximum
    return max(1, min(maximum, 1 + math.ceil(window_s / mean_duration_s)))


def group_mean(means: dict[str, float], queues: frozenset[str]) -> float | None:
    """The shortest recent mean among a group's queues (the deepest window it needs)."""
    known = [means[q] for q in queues if q in means]
    return min(known) if known else None
