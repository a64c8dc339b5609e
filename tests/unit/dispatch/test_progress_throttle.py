"""The worker's progress throttle: bounded write rate without a creeping delay."""

from __future__ import annotations

import pytest

from jobdesk.dispatch import writer as writer_module
from jobdesk.dispatch.writer import StateWriter

INTERVAL = 0.1


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1000.0]
    monkeypatch.setattr(writer_module.time, "monotonic", lambda: now[0])
    return now


def _take_due(w: StateWriter, now: float) -> list[str]:
    """What the writer thread takes at `now` (its own selection; nothing is written)."""
    if not any(p.due <= now for p in w._progress.values()):
        return []
    work = w._take()
    assert work is not None
    return [k for k, _ in work[2]]


def test_reports_at_the_interval_with_jitter_are_written_at_once(clock: list[float]) -> None:
    # A handler reporting every interval, some reports a few ms early: with
    # "one interval after the last write" each early one waited most of an interval.
    w = StateWriter("postgresql://unused", "w", INTERVAL)
    delays = []
    for i in range(50):
        clock[0] += INTERVAL + (-0.004 if i % 2 else 0.003)
        w.progress("job", 1, i, 50, None)
        p = w._progress["job"]
        delays.append(p.due - clock[0])
        clock[0] = max(clock[0], p.due) + 0.002  # the writer takes it a little later
        assert _take_due(w, clock[0]) == ["job"]
    assert max(delays) == 0.0


def test_a_flood_is_held_to_the_interval_and_the_latest_value_wins(clock: list[float]) -> None:
    w = StateWriter("postgresql://unused", "w", INTERVAL)
    writes = 0
    for i in range(1000):  # 1,000 reports in one second
        clock[0] += 0.001
        w.progress("job", 1, i, 1000, f"step {i}")
        writes += len(_take_due(w, clock[0]))
    # 10 per second on average, plus the burst of two at the start.
    assert 9 <= writes <= 12, writes
    pending = w._progress.get("job")
    assert pending is None or pending.current == 999
