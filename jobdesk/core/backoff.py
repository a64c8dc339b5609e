"""Retry delays: exponential with full jitter, capped."""

from __future__ import annotations

import random


def retry_delay(attempt: int, base_s: float, cap_s: float, rng: random.Random | None = None) -> float:
    """Delay before the attempt after `attempt` (1-based) failed.

    Half of the exponential step is fixed and half is jitter, so delays grow
    visibly from one attempt to the next while retries of many jobs that
    failed together still spread out.
    """
    step = min(cap_s, base_s * (2 ** max(0, attempt - 1)))
    r = (rng or random).random()
    return step / 2 + r * step / 2
