from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from jobdesk.core.errors import InvalidJobData, JobCancelled
from jobdesk.core.registry import registry
from jobdesk.workers import workflow_execution
from jobdesk.workers.testing import InlineContext, run_inline
from jobdesk.workers.workflow_execution import StepFailed


@pytest.fixture(autouse=True)
def no_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workflow_execution, "POLL_S", 0)


@pytest.fixture
def people(data_dir: Path) -> Path:
    path = data_dir / "people.csv"
    path.write_text("id,name\n1,Ada\n2,Grace\n3,Linus\n")
    return path


def convert(step_id: str, source: str, target: str, **extra: Any) -> dict[str, Any]:
    return {"id": step_id, "type": "data-conversion",
            "data": {"inputPath": source, "outputPath": target}, **extra}


def names(ctx: InlineContext) -> list[str]:
    return [c["name"] for c in ctx.child_jobs.values()]


def test_a_list_runs_in_order_as_child_jobs(make_ctx: Any, data_dir: Path, people: Path) -> None:
    ctx = make_ctx()
    result = run_inline(ctx, "workflow-execution", {"steps": [
        convert("to-jsonl", "people.csv", "people.jsonl"),
        convert("to-json", "people.jsonl", "people.json"),
    ]})
    assert [r["id"] for r in json.loads((data_dir / "people.json").read_text())] == [1, 2, 3]
    assert names(ctx) == ["to-jsonl", "to-json"]
    assert [s["status"] for s in result["steps"]] == ["completed", "completed"]
    assert result["steps"][1]["result"]["rowsWritten"] == 3
    assert ctx.updates[-1] == (200, 200, "2 of 2 steps done")


def test_a_dag_fans_out_and_joins(make_ctx: Any, people: Path) -> None:
    ctx = make_ctx(run_children=False)
    created_when: dict[str, set[str]] = {}

    def engine(c: InlineContext) -> None:
        # Finish whatever is pending, and note which steps existed at each poll.
        for child in c.child_jobs.values():
            created_when.setdefault(child["name"], {n for n in names(c) if n != child["name"]})
            if child["status"] == "pending":
                c.settle_child(child["id"], "completed", result={})

    ctx.on_progress = engine
    run_inline(ctx, "workflow-execution", {"steps": [
        convert("a", "people.csv", "a.jsonl", dependsOn=[]),
        convert("b", "people.csv", "b.json", dependsOn=[]),
        convert("join", "a.jsonl", "c.csv", dependsOn=["a", "b"]),
    ]})
    assert names(ctx) == ["a", "b", "join"]
    assert created_when["a"] == {"b"} and created_when["join"] == {"a", "b"}


def test_progress_aggregates_the_children(make_ctx: Any, people: Path) -> None:
    ctx = make_ctx(run_children=False)
    seen: list[tuple[int, int, str | None]] = []

    def engine(c: InlineContext) -> None:
        seen.append(c.updates[-1])
        ids = list(c.child_jobs)
        step = len(seen)
        if step == 1:
            c.settle_child(ids[0], "active", progress={"percentage": 50.0})
            c.settle_child(ids[1], "active", progress={"percentage": 20.0})
        elif step == 2:
            c.settle_child(ids[0], "completed", result={})
        elif step == 3:
            c.settle_child(ids[1], "completed", result={})

    ctx.on_progress = engine
    run_inline(ctx, "workflow-execution", {"steps": [
        convert("a", "people.csv", "a.jsonl", dependsOn=[]),
        convert("b", "people.csv", "b.jsonl", dependsOn=[]),
    ]})
    assert seen[0][:2] == (0, 200)
    assert seen[1] == (70, 200, "0 of 2 steps done; running: a (50%), b (20%)")
    assert seen[2] == (120, 200, "1 of 2 steps done; running: b (20%)")


def test_a_failing_step_fails_the_workflow(make_ctx: Any, people: Path) -> None:
    ctx = make_ctx()
    with pytest.raises(StepFailed, match="step 'broken' \\(data-conversion\\) failed: input file"):
        run_inline(ctx, "workflow-execution", {"steps": [
            convert("ok", "people.csv", "a.jsonl"),
            convert("broken", "missing.csv", "b.jsonl"),
            convert("never", "people.csv", "c.jsonl"),
        ]})
    assert names(ctx) == ["ok", "broken"]


def test_continue_on_failure_lets_dependents_run(make_ctx: Any, people: Path) -> None:
    ctx = make_ctx()
    result = run_inline(ctx, "workflow-execution", {"steps": [
        convert("broken", "missing.csv", "b.jsonl", continueOnFailure=True),
        convert("after", "people.csv", "c.jsonl"),
    ]})
    assert [s["status"] for s in result["steps"]] == ["failed", "completed"]
    assert result["failedButContinued"] == ["broken"]
    assert "not found" in result["steps"][0]["error"]["message"]


def test_cancelling_the_workflow_cancels_its_children(make_ctx: Any, people: Path) -> None:
    ctx = make_ctx(run_children=False, cancel_after=3)
    with pytest.raises(JobCancelled):
        run_inline(ctx, "workflow-execution", {"maxParallel": 2, "steps": [
            convert(x, "people.csv", f"{x}.jsonl", dependsOn=[]) for x in "abc"
        ]})
    # maxParallel held the third step back; the two started were cancelled with the parent.
    assert names(ctx) == ["a", "b"]
    assert {c["status"] for c in ctx.child_jobs.values()} == {"cancelled"}


def test_a_retry_adopts_earlier_children(make_ctx: Any, data_dir: Path, people: Path) -> None:
    data = {"steps": [
        convert("first", "people.csv", "a.jsonl"),
        convert("second", "later.csv", "b.jsonl"),
    ]}
    ctx = make_ctx()
    with pytest.raises(StepFailed):
        run_inline(ctx, "workflow-execution", data)
    (data_dir / "later.csv").write_text("x\n1\n")
    ctx.attempt = 2
    result = run_inline(ctx, "workflow-execution", data)
    # The completed step was not run again; the failed one ran anew.
    assert names(ctx) == ["first", "second", "second"]
    assert [s["status"] for s in result["steps"]] == ["completed", "completed"]
    assert result["steps"][1]["jobId"] == list(ctx.child_jobs)[2]


def test_creation_refuses_bad_workflows() -> None:
    definition = registry.get("workflow-execution")

    def refused(steps: list[dict[str, Any]], match: str) -> None:
        with pytest.raises(InvalidJobData, match=match):
            definition.validate_data({"steps": steps})

    ok = {"inputPath": "a.csv", "outputFormat": "json"}
    refused([
        {"id": "a", "type": "data-conversion", "data": ok, "dependsOn": ["c"]},
        {"id": "b", "type": "data-conversion", "data": ok, "dependsOn": ["a"]},
        {"id": "c", "type": "data-conversion", "data": ok, "dependsOn": ["b"]},
    ], "steps form a cycle: a -> c -> b -> a")
    refused([{"id": "a", "type": "data-conversion", "data": ok, "dependsOn": ["a"]}],
            "cycle: a -> a")
    refused([{"id": "a", "type": "no-such-type"}], r"steps\.0: Value error, unknown job type")
    refused([{"id": "a", "type": "data-conversion", "data": {"inputPath": "a.csv"}}],
            r"steps\.0: Value error, invalid data for 'data-conversion': .*outputFormat")
    refused([{"id": "a", "type": "data-conversion", "data": ok, "dependsOn": ["zz"]}],
            "depends on unknown step")
    refused([{"id": "a", "type": "data-conversion", "data": ok}] * 2, "step ids must be unique")
    refused([{"id": "a", "type": "data-conversion", "data": ok, "retries": 3}],
            r"steps\.0\.retries: Extra inputs are not permitted")
    refused([], "steps: List should have at least 1 item")
