"""Every benchmark scenario still runs: `python -m benchmarks --quick` at tiny N.

It measures nothing worth reading (the figures of a quick run are noise);
it proves that `make bench` would not fail on the first scenario that an
engine, server or console change broke. One process runs them all, as
`make bench` does, so that worker processes are started once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.__main__ import ORDER

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(600)
def test_every_scenario_runs_at_tiny_n(tmp_path: Path) -> None:
    out = tmp_path / "quick.json"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    # The benchmark makes its own database and namespace; the tests' settings must not leak in.
    for key in [k for k in env if k.startswith("JOBDESK_") and not k.startswith("JOBDESK_BENCH_")]:
        env.pop(key)
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=580,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    doc = json.loads(out.read_text())
    assert set(doc["scenarios"]) == set(ORDER)
    for name, scenario in doc["scenarios"].items():
        assert scenario["error"] is None, (name, scenario["error"])
        assert scenario["quick"] is True
        assert scenario["figures"], name
        assert all(f["value"] is not None for f in scenario["figures"].values()), name
    assert doc["machine"]["cores"] >= 1 and doc["machine"]["postgresql"]
    assert "scenario" in proc.stdout  # the table was printed
