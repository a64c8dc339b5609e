"""Retry delays: exponential backoff plus jitter, capped."""

from __future__ import annotations

import random

# Jitter adds up to this fraction of the step. Kept below 1 so that every
# delay is longer than any delay of the attempt before it: backoff stays
# visibly exponential, while jobs that failed together still spread out.
JITTER = 0.25


def retry_delay(attempt: int, base_s: float, cap_s: float, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based)."""
    step = min(cap_s, base_s * (2 ** max(0, attempt - 1)))
    return min(cap_s, step * (1 + JITTER * (rng or random).random()))
