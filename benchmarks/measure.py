"""Percentiles, medians and CPU accounting shared by the scenarios."""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import psutil
import redis


def percentile(values: Sequence[float], p: float) -> float | None:
    """The p-th percentile (0-100) by linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    rank = (len(ordered) - 1) * p / 100.0
    lo, hi = math.floor(rank), math.ceil(rank)
    return float(ordered[lo] + (ordered[hi] - ordered[lo]) * (rank - lo))


def summary(values: Sequence[float], digits: int = 2) -> dict[str, float | int | None]:
    """n, mean, p50, p95, p99, max of a sample."""

    def r(x: float | None) -> float | None:
        return None if x is None else round(x, digits)

    return {
        "n": len(values),
        "mean": r(statistics.fmean(values)) if values else None,
        "p50": r(percentile(values, 50)),
        "p95": r(percentile(values, 95)),
        "p99": r(percentile(values, 99)),
        "max": r(max(values)) if values else None,
    }


def median(values: Iterable[float]) -> float:
    return float(statistics.median(list(values)))


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU seconds of these processes so far (those that still exist)."""
    total = 0.0
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        total += t.user + t.system
    return total


def self_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def redis_cpu_seconds(url: str) -> float:
    """The Redis server's own CPU so far (shared by everyone using that Redis)."""
    client = redis.Redis.from_url(url)
    try:
        info = client.info("cpu")
    finally:
        client.close()
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


@dataclass
class CpuMeter:
    """CPU seconds spent by each party between start() and stop().

    Parties are named lists of pids, sampled at both ends; "self" is this
    process and "redis" the Redis server (INFO cpu) when a URL is given.
    """

    parties: dict[str, list[int]] = field(default_factory=dict)
    redis_url: str | None = None
    include_self: bool = True
    _start: dict[str, float] = field(default_factory=dict)
    _t0: float = 0.0
    result: dict[str, float] = field(default_factory=dict)

    def _sample(self) -> dict[str, float]:
        out = {name: cpu_seconds(pids) for name, pids in self.parties.items()}
        if self.include_self:
            out["self"] = self_cpu_seconds()
        if self.redis_url:
            out["redis"] = redis_cpu_seconds(self.redis_url)
        return out

    def start(self) -> CpuMeter:
        self._start = self._sample()
        self._t0 = time.perf_counter()
        return self

    def stop(self) -> dict[str, float]:
        end = self._sample()
        self.result = {k: round(end[k] - self._start.get(k, 0.0), 4) for k in end}
        self.result["wall"] = round(time.perf_counter() - self._t0, 4)
        return self.result
