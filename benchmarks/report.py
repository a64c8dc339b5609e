"""What a scenario returns, the table on stdout, and the machine a run was measured on."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import psutil
import psycopg
import redis

from benchmarks.env import ADMIN_URL, REDIS_URL, ROOT

KEY_PACKAGES = (
    "dramatiq",
    "redis",
    "psycopg",
    "psycopg-pool",
    "fastapi",
    "uvicorn",
    "websockets",
    "httpx",
    "pydantic",
    "PySide6-Essentials",
    "qasync",
)


@dataclass
class Figure:
    """One number of the report, with its target when the issue sets one."""

    key: str
    label: str
    value: float | None
    unit: str
    target: float | None = None
    # "max": the value must not exceed the target; "min": it must reach it.
    kind: Literal["max", "min"] | None = None
    note: str = ""

    @property
    def met(self) -> bool | None:
        if self.target is None or self.kind is None or self.value is None:
            return None
        return self.value <= self.target if self.kind == "max" else self.value >= self.target

    @property
    def vs_target(self) -> float | None:
        """value / target: the share of a ceiling used, or how much of a floor was reached."""
        if self.target is None or self.value is None or self.target == 0:
            return None
        return self.value / self.target

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["met"] = self.met
        out["vs_target"] = None if self.vs_target is None else round(self.vs_target, 3)
        return out


@dataclass
class Result:
    scenario: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    quick: bool = False
    error: str | None = None

    def add(self, *args: Any, **kwargs: Any) -> Figure:
        fig = Figure(*args, **kwargs)
        self.figures.append(fig)
        return fig

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "title": self.title,
            "quick": self.quick,
            "seconds": round(self.seconds, 1),
            "error": self.error,
            "figures": {f.key: f.to_json() for f in self.figures},
            "settings": self.settings,
            "details": self.details,
            "notes": self.notes,
        }


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.3g}" if value else "0"
    return f"{text} {unit}".strip()


def table(results: list[Result]) -> str:
    rows = [("scenario", "figure", "value", "target", "vs target", "")]
    for r in results:
        if r.error:
            rows.append((r.scenario, "FAILED", r.error.splitlines()[0][:70], "", "", "!!"))
            continue
        for f in r.figures:
            target = (
                "" if f.target is None else ("<= " if f.kind == "max" else ">= ") + _fmt(f.target, f.unit)
            )
            vs = "" if f.vs_target is None else f"{f.vs_target:.2f}x"
            mark = {True: "ok", False: "MISS", None: ""}[f.met]
            rows.append((r.scenario, f.label, _fmt(f.value, f.unit), target, vs, mark))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


# -- the machine ------------------------------------------------------------------------------------


def _run(args: list[str]) -> str:
    try:
        return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def machine() -> dict[str, Any]:
    try:
        with psycopg.connect(f"{ADMIN_URL}/postgres", connect_timeout=5) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            pg = row[0] if row else None
            settings = dict(
                conn.execute(
                    "SELECT name, setting FROM pg_settings WHERE name IN "
                    "('shared_buffers', 'synchronous_commit', 'max_connections', 'work_mem', 'fsync', "
                    "'max_parallel_workers_per_gather', 'jit')"
                ).fetchall()
            )
    except psycopg.Error:
        pg, settings = None, {}
    try:
        client = redis.Redis.from_url(REDIS_URL)
        redis_version = client.info("server")["redis_version"]
        client.close()
    except redis.RedisError:
        redis_version = None
    status = _run(["git", "status", "--porcelain", "--untracked-files=no"])
    return {
        "cores": psutil.cpu_count(logical=True),
        "physical_cores": psutil.cpu_count(logical=False),
        "cpu": _cpu_model(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "postgresql": pg,
        "postgresql_settings": settings,
        "redis": redis_version,
        "packages": {p: _version(p) for p in KEY_PACKAGES},
        "commit": _run(["git", "rev-parse", "HEAD"]) or None,
        "commit_subject": _run(["git", "log", "-1", "--format=%s"]) or None,
        # Other engineers' changes not yet committed were part of what ran.
        "worktree_dirty": bool(status),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def contention() -> dict[str, Any]:
    """Who else was using the machine: pytest processes and the load average."""
    others = 0
    for p in psutil.process_iter(["cmdline", "pid"]):
        cmd = " ".join(p.info.get("cmdline") or [])
        if "pytest" in cmd and p.info["pid"] != os.getpid():
            others += 1
    return {"pytest_processes": others, "load_average": [round(x, 2) for x in os.getloadavg()]}


# -- markdown, for docs/performance.md ----------------------------------------------------------------


def markdown(doc: dict[str, Any]) -> str:
    """The figures of a results file as one markdown table per scenario."""
    out: list[str] = []
    for name in doc.get("order") or list(doc["scenarios"]):
        s = doc["scenarios"][name]
        out.append(f"### {name}: {s['title']}\n")
        if s.get("error"):
            out.append(f"Failed: `{s['error'].splitlines()[0]}`\n")
            continue
        out.append("| figure | value | target | vs target |")
        out.append("|---|---|---|---|")
        for f in s["figures"].values():
            target = ""
            if f["target"] is not None:
                target = ("≤ " if f["kind"] == "max" else "≥ ") + _fmt(f["target"], f["unit"])
            vs = (
                ""
                if f["vs_target"] is None
                else f"{f['vs_target']:.2f}x" + {True: "", False: " **missed**"}.get(f["met"], "")
            )
            out.append(f"| {f['label']} | {_fmt(f['value'], f['unit'])} | {target} | {vs} |")
        out.append("")
    return "\n".join(out)


def machine_markdown(doc: dict[str, Any]) -> str:
    m = doc["machine"]
    pg = m.get("postgresql_settings") or {}
    packages = ", ".join(f"{k} {v}" for k, v in (m.get("packages") or {}).items() if v)
    commits = sorted({s["machine"]["commit"][:10] for s in doc["scenarios"].values() if s.get("machine")})
    return "\n".join(
        [
            f"- {m['cores']} cores ({m['cpu']}), {m['memory_gb']} GB, {m['os']}",
            f"- Python {m['python']}; PostgreSQL {m['postgresql']} (shared_buffers {pg.get('shared_buffers')}"
            f" x 8 kB, synchronous_commit {pg.get('synchronous_commit')}, fsync {pg.get('fsync')});"
            f" Redis {m['redis']}",
            f"- {packages}",
            f"- commit {', '.join(commits)} (per scenario in latest.json), measured {m['measured_at']}",
        ]
    )


def targets_markdown(doc: dict[str, Any]) -> str:
    rows = ["| target | measured | measured / target |", "|---|---|---|"]
    for name in doc.get("order") or list(doc["scenarios"]):
        for f in doc["scenarios"][name]["figures"].values():
            if f["target"] is None:
                continue
            sign = "≤" if f["kind"] == "max" else "≥"
            verdict = "met" if f["met"] else "**missed**"
            target = f"{sign} {_fmt(f['target'], f['unit'])}"
            value = _fmt(f["value"], f["unit"])
            rows.append(f"| {name}: {f['label']} {target} | {value} | {f['vs_target']:.2f} ({verdict}) |")
    return "\n".join(rows)


def contention_markdown(doc: dict[str, Any]) -> str:
    rows = [
        "| scenario | measured at | other test processes (before, after) | load average (1 min) |",
        "|---|---|---|---|",
    ]
    for name in doc.get("order") or list(doc["scenarios"]):
        s = doc["scenarios"][name]
        c = s["details"].get("contention") or {}
        b, a = c.get("before", {}), c.get("after", {})
        others = f"{b.get('pytest_processes')}, {a.get('pytest_processes')}"
        load = f"{(b.get('load_average') or ['?'])[0]} → {(a.get('load_average') or ['?'])[0]}"
        rows.append(f"| {name} | {s['machine']['measured_at']} | {others} | {load} |")
    return "\n".join(rows)


def update_doc(path: Path, doc: dict[str, Any]) -> None:
    """Rewrite the generated parts of a markdown file: between <!-- NAME:begin --> and <!-- NAME:end -->."""
    text = path.read_text()
    parts = {
        "machine": machine_markdown(doc),
        "figures": markdown(doc),
        "targets": targets_markdown(doc),
        "contention": contention_markdown(doc),
    }
    for name, body in parts.items():
        begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
        if begin not in text:
            raise ValueError(f"{path} has no {begin}")
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = f"{head}{begin}\n{body}\n{end}{tail}"
    path.write_text(text)


if __name__ == "__main__":
    import argparse
    import json

    p = argparse.ArgumentParser(prog="python -m benchmarks.report", description="results as markdown")
    p.add_argument(
        "results", nargs="?", type=Path, default=Path(__file__).resolve().parent / "results" / "latest.json"
    )
    p.add_argument("--update-doc", type=Path, metavar="MD", help="rewrite the generated parts of this file")
    args = p.parse_args()
    results = json.loads(args.results.read_text())
    if args.update_doc:
        update_doc(args.update_doc, results)
    else:
        print(markdown(results))
