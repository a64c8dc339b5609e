"""Tables for the model tests: a churn data set whose rule a model can learn."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

PLANS = ["basic", "plus", "pro"]


def write_churn(path: Path, rows: int, seed: int, drift: float = 0.0) -> Path:
    """A churn table whose label follows tenure, calls and plan; `drift` moves the rule."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["tenure", "monthly", "calls", "plan", "churn", "spend"])
        for _ in range(rows):
            tenure = rng.integers(1, 72)
            monthly = round(float(rng.uniform(20, 120)), 2)
            calls = rng.poisson(2)
            plan = PLANS[rng.integers(0, 3)]
            score = -0.06 * tenure + 0.7 * calls + (0.8 if plan == "basic" else -0.4) + 0.5
            score += drift * (monthly - 70) / 10
            churn = "yes" if rng.random() < 1 / (1 + np.exp(-score)) else "no"
            spend = round(monthly * tenure * (1.1 if plan == "pro" else 1.0) + rng.normal(0, 50), 2)
            # An empty cell now and then: the imputer must cope.
            out.writerow([tenure, "" if rng.random() < 0.02 else monthly, calls, plan, churn, spend])
    return path
