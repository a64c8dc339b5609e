"""Cron expressions and which ticks a schedule fires: pure functions, no I/O.

Expressions have 5 fields (minute hour day month weekday) or 6 with seconds
first (`*/10 * * * * *`: every ten seconds), as node-cron and Quartz write
them; croniter's `@hourly`-style aliases work too. Ticks are computed in the
schedule's time zone, so `0 9 * * *` in Europe/Paris is 09:00 Paris time on
both sides of a daylight-saving change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from jobdesk.core.errors import InvalidInput

MISSED_POLICIES: tuple[str, ...] = ("coalesce", "skip", "all")
# 'all' fires at most this many missed ticks (the latest ones) in one catch-up.
ALL_MAX = 100
# Under 'skip', a tick fired this late still counts as on time (a slow round,
# a server restarting); older ones were missed and are dropped.
SKIP_GRACE_S = 30.0
_ONE_US = timedelta(microseconds=1)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"timezone: unknown time zone {name!r} (e.g. UTC, Europe/Paris)") from None


class Cron:
    """A validated expression in a time zone; raises InvalidInput naming `cron` or `timezone`."""

    def __init__(self, expr: str, timezone: str = "UTC") -> None:
        self.expr = " ".join(expr.split())
        self.tz = zone(timezone)
        fields = self.expr.split(" ")
        if not self.expr.startswith("@") and len(fields) not in (5, 6):
            raise InvalidInput(
                f"cron: {expr!r} has {len(fields)} fields; use 5 (minute hour day month weekday) "
                "or 6 with seconds first"
            )
        self._seconds = len(fields) == 6
        try:
            self._iter(datetime.now(self.tz)).get_next(datetime)
        except Exception as exc:  # croniter raises several unrelated types for bad input
            raise InvalidInput(f"cron: {expr!r} is not a valid cron expression ({exc})") from None

    def _iter(self, start: datetime) -> croniter:
        return croniter(self.expr, start.astimezone(self.tz), second_at_beginning=self._seconds)

    def next_after(self, t: datetime) -> datetime:
        """The first tick strictly after t."""
        return self._iter(t).get_next(datetime)

    def latest(self, since: datetime, until: datetime, limit: int) -> list[datetime]:
        """Up to `limit` ticks in [since, until], newest first."""
        out: list[datetime] = []
        it = self._iter(until + _ONE_US)  # get_prev is strictly before its start
        while len(out) < limit:
            tick = it.get_prev(datetime)
            if tick < since:
                break
            out.append(tick)
        return out


@dataclass(frozen=True, slots=True)
class Plan:
    fire: list[datetime]  # oldest first
    next_run_at: datetime
    dropped: int  # due ticks not fired (at least this many)


def plan(cron: Cron, policy: str, due_since: datetime, now: datetime, lookahead_s: float = 0.0) -> Plan:
    """What to fire for a schedule whose next unfired tick is `due_since`.

    Ticks up to `now + lookahead_s` are due (a job for a tick a moment ahead is
    created early with that tick as its runAt, so it starts on time). Then:
    - coalesce: one run for all due ticks, for the latest of them;
    - skip: the latest tick only if it is no more than SKIP_GRACE_S late, else none;
    - all: every due tick, at most the latest ALL_MAX.
    The next unfired tick is the first after the horizon, whatever was fired.
    """
    horizon = now + timedelta(seconds=lookahead_s)
    due = cron.latest(due_since, horizon, ALL_MAX + 1)
    if policy == "all":
        fire = due[:ALL_MAX]
    elif policy == "skip":
        fire = due[:1] if due and (now - due[0]).total_seconds() <= SKIP_GRACE_S else []
    elif policy == "coalesce":
        fire = due[:1]
    else:
        raise InvalidInput(f"missedPolicy must be one of {', '.join(MISSED_POLICIES)}, not {policy!r}")
    return Plan(list(reversed(fire)), cron.next_after(horizon), len(due) - len(fire))
