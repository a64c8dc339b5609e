from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from jobdesk.core.errors import InvalidJobData, InvalidTransition, JobCancelled, JobNotFound
from jobdesk.core.registry import registry
from jobdesk.workers.bulk_operation import TooManyFailures
from jobdesk.workers.testing import InlineContext, run_inline


class FakeJobs:
    """ctx.jobs over a dict of id -> {type, status, queue}, with the engine's transition rules."""

    def __init__(self, jobs: dict[str, dict[str, str]]) -> None:
        self.jobs = jobs
        self.calls: list[tuple[str, str]] = []
        self.pages = 0

    def list_ids(self, filter: dict[str, Any], limit: int, after_id: str | None = None) -> list[str]:
        self.pages += 1
        ids = sorted(
            i for i, job in self.jobs.items()
            if all(job[k] == v for k, v in filter.items()) and (after_id is None or i > after_id)
        )
        return ids[:limit]

    def cancel(self, job_id: str) -> None:
        self._move(job_id, "cancel", {"pending", "active"}, "cancelled")

    def retry(self, job_id: str) -> None:
        self._move(job_id, "retry", {"failed", "cancelled"}, "pending")

    def delete(self, job_id: str) -> None:
        self.calls.append(("delete", job_id))
        if self._get(job_id)["status"] not in ("completed", "failed", "cancelled"):
            raise InvalidTransition(f"cannot delete job {job_id}: it is running")
        del self.jobs[job_id]

    def _move(self, job_id: str, action: str, sources: set[str], to: str) -> None:
        self.calls.append((action, job_id))
        job = self._get(job_id)
        if job["status"] not in sources:
            raise InvalidTransition(f"cannot {action} job {job_id}: it is {job['status']}")
        job["status"] = to

    def _get(self, job_id: str) -> dict[str, str]:
        if job_id not in self.jobs:
            raise JobNotFound(job_id)
        return self.jobs[job_id]


def fleet(**counts: int) -> dict[str, dict[str, str]]:
    """e.g. fleet(failed=3, completed=2): jobs of type 'report' in those states."""
    out = {}
    for status, count in counts.items():
        for _ in range(count):
            out[str(uuid.uuid4())] = {"type": "report", "status": status, "queue": "report"}
    return out


def run(ctx: InlineContext, **data: Any) -> dict[str, Any]:
    return run_inline(ctx, "bulk-operation", data)


def test_retry_failed_jobs_in_batches(make_ctx: Any) -> None:
    jobs = FakeJobs(fleet(failed=250, completed=40))
    ctx = make_ctx(jobs=jobs)
    result = run(ctx, operation="retry", filter={"status": "failed"}, batchSize=100)
    assert (result["matched"], result["succeeded"], result["failed"]) == (250, 250, 0)
    assert result["batches"] == 3 and not result["limitReached"]
    assert [u[:2] for u in ctx.updates] == [(100, 250), (200, 250), (250, 250)]
    assert ctx.updates[-1][2] == "Batch 3 of 3: 250 retried, 0 failed"
    assert sum(j["status"] == "pending" for j in jobs.jobs.values()) == 250


def test_partial_failures_are_listed(make_ctx: Any) -> None:
    jobs = FakeJobs(fleet(pending=3, active=2))
    doomed = sorted(jobs.jobs)[1]
    ctx = make_ctx(jobs=jobs)

    # One job vanishes between the listing and the action, as a concurrent delete would do.
    original = jobs.list_ids

    def list_then_vanish(*args: Any) -> list[str]:
        ids = original(*args)
        jobs.jobs.pop(doomed, None)
        return ids

    jobs.list_ids = list_then_vanish  # type: ignore[method-assign]
    result = run(ctx, operation="cancel", filter={"type": "report"})
    assert (result["succeeded"], result["failed"]) == (4, 1)
    assert result["failures"] == [
        {"id": doomed, "code": "job_not_found", "error": f"job {doomed} not found"}
    ]


def test_delete_refuses_running_jobs_and_reports_them(make_ctx: Any) -> None:
    jobs = FakeJobs(fleet(completed=5, active=2))
    result = run(make_ctx(jobs=jobs), operation="delete", filter={"type": "report"})
    assert (result["succeeded"], result["failed"]) == (5, 2)
    assert {f["code"] for f in result["failures"]} == {"invalid_transition"}
    assert len(jobs.jobs) == 2


def test_max_failures_fails_the_job(make_ctx: Any) -> None:
    jobs = FakeJobs(fleet(completed=30))
    with pytest.raises(TooManyFailures, match="30 items failed, more than maxFailures=5"):
        run(make_ctx(jobs=jobs), operation="cancel", filter={"status": "completed"},
            maxFailures=5)


def test_limit_dry_run_and_never_itself(make_ctx: Any) -> None:
    jobs = FakeJobs(fleet(active=2500))
    me = sorted(jobs.jobs)[0]
    ctx = make_ctx(jobs=jobs, job_id=me)
    result = run(ctx, operation="cancel", filter={"status": "active"}, limit=2000, dryRun=True)
    assert result["matched"] == 2000 and result["limitReached"] and result["dryRun"]
    assert me not in result["sample"] and jobs.calls == [] and jobs.pages == 3
    result = run(make_ctx(jobs=jobs, job_id=me), operation="cancel", filter={"status": "active"})
    assert result["matched"] == 2499 and jobs.jobs[me]["status"] == "active"


def test_retried_jobs_are_not_retried_twice(make_ctx: Any) -> None:
    # Retrying makes a job pending; the snapshot keeps it from being picked up again.
    jobs = FakeJobs(fleet(failed=1500))
    result = run(make_ctx(jobs=jobs), operation="retry", filter={"type": "report"}, batchSize=500)
    assert result["succeeded"] == 1500 and len(jobs.calls) == 1500


def test_cancel_mid_run_stops_between_batches(make_ctx: Any) -> None:
    jobs = FakeJobs(fleet(failed=500))
    ctx = make_ctx(jobs=jobs, cancel_after=2)
    with pytest.raises(JobCancelled):
        run(ctx, operation="retry", filter={"status": "failed"}, batchSize=100)
    assert len(jobs.calls) == 200


@pytest.fixture
def customers(data_dir: Path) -> Path:
    path = data_dir / "customers.csv"
    path.write_text(
        "id,name,country,spend\n"
        "1, ada ,uk,10.5\n2,grace,us,abc\n3,linus,fi,7\n4,x\n5,margaret,us,\n"
    )
    return path


TRANSFORMS = [
    {"op": "strip", "fields": ["name"]},
    {"op": "uppercase", "fields": ["country"]},
    {"op": "cast", "field": "spend", "to": "float"},
    {"op": "cast", "field": "id", "to": "int"},
    {"op": "filter", "field": "country", "in": ["UK", "US"]},
    {"op": "rename", "fields": {"spend": "spendEur"}},
    {"op": "set", "field": "source", "value": "crm"},
    {"op": "drop", "fields": ["country"]},
]


def test_transform_rows_lists_the_rows_that_failed(make_ctx: Any, data_dir: Path,
                                                    customers: Path) -> None:
    ctx = make_ctx()
    result = run(ctx, operation="transform", inputPath="customers.csv",
                 outputPath="out/customers.jsonl", transforms=TRANSFORMS, batchSize=2)
    rows = [json.loads(x) for x in (data_dir / "out/customers.jsonl").read_text().splitlines()]
    assert rows == [
        {"id": 1, "name": "ada", "spendEur": 10.5, "source": "crm"},
        {"id": 5, "name": "margaret", "spendEur": None, "source": "crm"},
    ]
    assert (result["rowsRead"], result["rowsWritten"], result["rowsFiltered"]) == (5, 2, 1)
    assert result["failures"] == [
        {"line": 3, "error": "cast: field 'spend' value 'abc' is not float"},
        {"line": 5, "error": "2 fields, but the header has 4"},
    ]
    assert result["batches"] == 3
    assert [u[2].split(":")[0] for u in ctx.updates[:2]] == ["Batch 1", "Batch 2"]


def test_transform_cancel_leaves_no_output(make_ctx: Any, data_dir: Path) -> None:
    (data_dir / "big.jsonl").write_text("".join(f'{{"n": {i}}}\n' for i in range(5000)))
    ctx = make_ctx(cancel_after=2)
    with pytest.raises(JobCancelled):
        run(ctx, operation="transform", inputPath="big.jsonl", outputPath="o.jsonl",
            transforms=[{"op": "set", "field": "x", "value": 1}], batchSize=100)
    assert not (data_dir / "o.jsonl").exists()


def test_creation_checks(make_ctx: Any) -> None:
    definition = registry.get("bulk-operation")

    def refused(data: dict[str, Any], match: str) -> None:
        with pytest.raises(InvalidJobData, match=match):
            definition.validate_data(data)

    refused({"operation": "cancel", "filter": {}}, "give at least one of type, status or queue")
    refused({"operation": "cancel", "filter": {"status": "done"}}, r"filter\.status: Input should be")
    refused({"operation": "explode"}, "does not match any of the expected tags")
    refused({"operation": "transform", "inputPath": "a.csv", "outputPath": "b.csv",
             "transforms": [{"op": "cast", "field": "x", "to": "date"}]},
            r"transforms\.0\.cast\.to: Input should be")
    refused({"operation": "transform", "inputPath": "/etc/../passwd", "outputPath": "b.csv",
             "transforms": [{"op": "drop", "fields": ["a"]}]}, "may not contain")
    stored = definition.validate_data({"operation": "retry", "filter": {"type": "report"}})
    assert stored["batchSize"] == 100 and stored["filter"]["type"] == "report"
