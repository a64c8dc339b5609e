"""`python -m benchmarks [scenario ...] [--quick]` (and `make bench`): measure, print, save.

Every scenario runs against the local PostgreSQL and Redis in a database and
namespaces of this run's own, which are removed at the end. A full run
rewrites benchmarks/results/latest.json; a run of some scenarios updates
their entries in it; a --quick run (tiny N, for smoke tests) writes only
to benchmarks/results/quick.json or to --out.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from benchmarks.env import BenchEnv
from benchmarks.report import Result, contention, machine, table

SCENARIOS = {
    "throughput": "benchmarks.throughput",
    "create": "benchmarks.create_rate",
    "events": "benchmarks.events",
    "priority": "benchmarks.priority",
    "scale": "benchmarks.scale",
    "console": "benchmarks.console",
    "cost": "benchmarks.cost",
}
# Engine-only scenarios first; scale last but one, console (its own process) after it.
ORDER = ("throughput", "cost", "priority", "create", "events", "scale", "console")
RESULTS = Path(__file__).resolve().parent / "results"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    p.add_argument(
        "scenarios", nargs="*", metavar="SCENARIO", help=f"any of {', '.join(ORDER)} (default: all)"
    )
    p.add_argument("--quick", action="store_true", help="tiny N: proves each scenario runs, measures nothing")
    p.add_argument("--out", type=Path, help="write the results here (default: see above)")
    p.add_argument("--keep", action="store_true", help="keep the benchmark database and Redis keys")
    args = p.parse_args(argv)
    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown:
        p.error(f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(ORDER)}")
    return args


def run_one(name: str, env: BenchEnv, quick: bool) -> Result:
    module = importlib.import_module(SCENARIOS[name])
    print(f"== {name}: {module.TITLE}{' (quick)' if quick else ''}", flush=True)
    t0 = time.perf_counter()
    before = contention()
    try:
        env.reset()
        result: Result = module.run(env, quick=quick)
    except Exception as exc:
        traceback.print_exc()
        result = Result(name, module.TITLE, quick=quick, error=f"{type(exc).__name__}: {exc}")
        # Whatever state the workers were left in, the next scenario starts its own.
        env.stop_workers()
        env.stop_bare()
    result.seconds = time.perf_counter() - t0
    result.details["contention"] = {"before": before, "after": contention()}
    print(f"   {result.seconds:.0f} s", flush=True)
    return result


def save(path: Path, results: list[Result], info: dict[str, Any], merge: bool) -> None:
    doc: dict[str, Any] = {"scenarios": {}}
    if merge and path.exists():
        try:
            doc = json.loads(path.read_text())
        except ValueError:
            pass
    doc.setdefault("scenarios", {})
    for r in results:
        entry = r.to_json()
        entry["machine"] = info  # per scenario: a partial run leaves the others' as they were
        doc["scenarios"][r.scenario] = entry
    doc["machine"] = info
    doc["order"] = [s for s in ORDER if s in doc["scenarios"]]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    names = [s for s in ORDER if s in (args.scenarios or ORDER)]
    info = machine()
    print(
        f"jobdesk benchmarks on {info['cores']} cores, {info['memory_gb']} GB; Python {info['python']}, "
        f"PostgreSQL {info['postgresql']}, Redis {info['redis']}; commit {str(info['commit'])[:10]}",
        flush=True,
    )
    env = BenchEnv.create(keep=args.keep)
    results: list[Result] = []
    try:
        for name in names:
            results.append(run_one(name, env, args.quick))
    finally:
        env.close()
    print()
    print(table(results))
    if args.out:
        path, merge = args.out, False
    elif args.quick:
        path, merge = RESULTS / "quick.json", False
    else:
        path, merge = RESULTS / "latest.json", len(names) < len(ORDER)
    save(path, results, info, merge)
    print(f"\nresults: {path}")
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
