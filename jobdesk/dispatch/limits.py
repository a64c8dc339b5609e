"""Rate limits and concurrency caps: which candidates a dispatch round may take.

Pure logic over what the dispatcher read in its locked transaction: the
candidates in priority order, each limit's tokens (refilled) and how many of
its jobs are in flight. A candidate goes only if every limit that applies to
it (its type's, its organization's) has a token and a free slot; the rest
wait, and the first reason each queue was held is reported.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

Key = tuple[str, str]  # (scope, key): ("type", "data-conversion") or ("organization", "acme")


@dataclass
class Budget:
    per_second: float | None
    max_concurrent: int | None
    tokens: float
    inflight: int = 0


@dataclass
class Choice:
    ids: list[Any] = field(default_factory=list)
    taken: Counter[Key] = field(default_factory=Counter)
    held: dict[str, str] = field(default_factory=dict)


def keys_of(candidate: dict[str, Any]) -> tuple[Key, Key]:
    return ("type", candidate["type"]), ("organization", candidate["organization_id"])


def blocked_by(budget: Budget, taken: int) -> str | None:
    if budget.max_concurrent is not None and budget.inflight + taken >= budget.max_concurrent:
        return f"at its limit of {budget.max_concurrent} concurrent jobs"
    if budget.per_second is not None and budget.tokens - taken < 1:
        return f"at its rate limit of {budget.per_second:g} jobs/s"
    return None


def choose(candidates: list[dict[str, Any]], budgets: dict[Key, Budget], limit: int) -> Choice:
    out = Choice()
    for c in candidates:
        if len(out.ids) >= limit:
            break
        reasons = []
        for key in keys_of(c):
            budget = budgets.get(key)
            if budget is None:
                continue
            why = blocked_by(budget, out.taken[key])
            if why:
                reasons.append(f"{key[0]} {key[1]} is {why}")
        if reasons:
            out.held.setdefault(c["queue"], "; ".join(reasons))
            continue
        out.ids.append(c["id"])
        for key in keys_of(c):
            if key in budgets:
                out.taken[key] += 1
    return out
