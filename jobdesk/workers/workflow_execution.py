"""workflow-execution: run steps, each a job of any type, as child jobs in order or as a DAG.

A step without `dependsOn` runs after the step before it, so a plain list is
a sequence; `dependsOn: [...]` names the steps it waits for (`[]`: none), so
steps can fan out and join. Cycles, unknown step types, dangling
dependencies and a step's invalid data are all refused when the workflow is
created, not halfway through it.

A failed (or cancelled) step fails the workflow, which cancels the steps
still running, unless that step says `continueOnFailure`: then its dependents
run anyway. Cancelling the workflow cancels its children.

The parent polls its children while they run, so it occupies one worker
thread for the whole workflow. Workers need more threads than workflows
running at once, or the steps have no thread to run on: give workflows a
worker of their own (`jobdesk worker --queues workflow-execution`).

Restart-safe: each child job is named after its step id, and a new attempt
adopts the children an earlier attempt created instead of creating them
again. A step whose child failed in an earlier attempt runs again.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from pydantic import Field, model_validator

from jobdesk.core.context import JobContext
from jobdesk.core.errors import InvalidJobData, JobCancelled
from jobdesk.core.jobs import MAX_ATTEMPTS_LIMIT, PRIORITY_MAX, PRIORITY_MIN
from jobdesk.core.registry import job, registry
from jobdesk.workers._common import Schema

POLL_S = 0.2
FINISHED = frozenset({"completed", "failed", "cancelled"})
UNSUCCESSFUL = frozenset({"failed", "cancelled"})


class WorkflowStep(Schema):
    id: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,100}$")
    type: str
    data: dict[str, Any] = Field(default_factory=dict)
    depends_on: list[str] | None = Field(
        default=None, description="steps to wait for; unset: the previous step"
    )
    continue_on_failure: bool = False
    priority: int | None = Field(default=None, ge=PRIORITY_MIN, le=PRIORITY_MAX)
    max_attempts: int | None = Field(default=None, ge=1, le=MAX_ATTEMPTS_LIMIT)

    @model_validator(mode="after")
    def _known_type_and_valid_data(self) -> WorkflowStep:
        # Checked here so a typo in step 7 is refused at creation, not after steps 1-6 ran.
        if self.type not in registry:
            raise ValueError(f"unknown job type {self.type!r} (known: {', '.join(registry.types())})")
        try:
            registry.get(self.type).validate_data(self.data)
        except InvalidJobData as exc:
            raise ValueError(exc.message) from None
        return self


class WorkflowData(Schema):
    steps: list[WorkflowStep] = Field(min_length=1, max_length=500)
    max_parallel: int | None = Field(default=None, ge=1, le=500,
                                     description="most steps running at once")

    @model_validator(mode="after")
    def _a_dag(self) -> WorkflowData:
        ids = [s.id for s in self.steps]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"step ids must be unique: {', '.join(duplicates)}")
        for step in self.steps:
            unknown = [d for d in step.depends_on or [] if d not in ids]
            if unknown:
                raise ValueError(f"step {step.id!r} depends on unknown step(s) {', '.join(unknown)}")
        cycle = find_cycle(self.dependencies())
        if cycle:
            raise ValueError(f"steps form a cycle: {' -> '.join(cycle)}")
        return self

    def dependencies(self) -> dict[str, list[str]]:
        deps: dict[str, list[str]] = {}
        for index, step in enumerate(self.steps):
            if step.depends_on is not None:
                deps[step.id] = list(step.depends_on)
            else:
                deps[step.id] = [self.steps[index - 1].id] if index else []
        return deps


def find_cycle(deps: dict[str, list[str]]) -> list[str] | None:
    """A dependency cycle as a path that returns to its start, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for dep in deps[node]:
            if state.get(dep) == 1:
                return [*path[path.index(dep):], dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in deps:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


class StepFailed(RuntimeError):
    pass


@job("workflow-execution", schema=WorkflowData)
def run_workflow(ctx: JobContext, data: dict[str, Any]) -> dict[str, Any]:
    """Run a workflow's steps as child jobs, in order or as a DAG."""
    spec = WorkflowData.model_validate(data)
    steps = {s.id: s for s in spec.steps}
    deps = spec.dependencies()
    tracked = _adopt(ctx, spec)  # step id -> child job id
    try:
        while True:
            by_id = {c["id"]: c for c in ctx.children()}
            state = {sid: by_id.get(cid, {"status": "pending"}) for sid, cid in tracked.items()}
            _fail_on_unsuccessful(ctx, steps, state)
            done = {sid for sid, child in state.items() if child["status"] in FINISHED}
            if len(done) == len(steps):
                break
            running = len(tracked) - len(done)
            for step in spec.steps:
                if spec.max_parallel is not None and running >= spec.max_parallel:
                    break
                if step.id not in tracked and all(d in done for d in deps[step.id]):
                    tracked[step.id] = ctx.create_child(
                        step.type, step.data, name=step.id,
                        priority=step.priority, max_attempts=step.max_attempts,
                    )
                    running += 1
            ctx.progress(*_aggregate(spec, state))
            time.sleep(POLL_S)
    except JobCancelled:
        ctx.cancel_children()
        raise
    ctx.progress(len(steps) * 100, len(steps) * 100, f"{len(steps)} of {len(steps)} steps done")
    return _summary(spec, tracked, state)


def _adopt(ctx: JobContext, spec: WorkflowData) -> dict[str, str]:
    """Children an earlier attempt created that still count, by step id (child name)."""
    by_name: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for child in ctx.children():
        by_name[child.get("name") or ""].append(child)
    tracked: dict[str, str] = {}
    for step in spec.steps:
        earlier = by_name.get(step.id, [])
        alive = [c for c in earlier if c["status"] not in UNSUCCESSFUL]
        if alive:
            tracked[step.id] = alive[-1]["id"]
        elif earlier and step.continue_on_failure:
            tracked[step.id] = earlier[-1]["id"]
        # Otherwise: never created, or failed last time: (re)created when its turn comes.
    return tracked


def _fail_on_unsuccessful(
    ctx: JobContext, steps: dict[str, WorkflowStep], state: dict[str, dict[str, Any]]
) -> None:
    for sid, child in state.items():
        if child["status"] in UNSUCCESSFUL and not steps[sid].continue_on_failure:
            stopped = ctx.cancel_children()
            reason = (child.get("error") or {}).get("message") or child["status"]
            also = f"; {stopped} running step(s) cancelled" if stopped else ""
            raise StepFailed(f"step {sid!r} ({steps[sid].type}) {child['status']}: {reason}{also}")


def _aggregate(spec: WorkflowData, state: dict[str, dict[str, Any]]) -> tuple[int, int, str]:
    """The parent's progress: each step weighs the same; a running step counts its percentage."""
    total = 0.0
    running = []
    for step in spec.steps:
        child = state.get(step.id)
        if child is None:
            continue
        if child["status"] in FINISHED:
            total += 100
        else:
            percentage = float((child.get("progress") or {}).get("percentage") or 0)
            total += percentage
            if child["status"] == "active":
                running.append(f"{step.id} ({percentage:.0f}%)")
    finished = sum(1 for c in state.values() if c["status"] in FINISHED)
    message = f"{finished} of {len(spec.steps)} steps done"
    if running:
        shown = ", ".join(running[:5]) + (", ..." if len(running) > 5 else "")
        message += f"; running: {shown}"
    return round(total), len(spec.steps) * 100, message


def _summary(
    spec: WorkflowData, tracked: dict[str, str], state: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    steps = []
    for step in spec.steps:
        child = state[step.id]
        steps.append({
            "id": step.id, "type": step.type, "jobId": tracked[step.id],
            "status": child["status"], "result": child.get("result"), "error": child.get("error"),
        })
    failed = [s["id"] for s in steps if s["status"] != "completed"]
    return {
        "steps": steps,
        "completed": len(steps) - len(failed),
        "failedButContinued": failed,
    }
