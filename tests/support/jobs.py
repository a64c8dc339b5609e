"""Job types for the engine's tests: each one leaves evidence of what ran."""

from __future__ import annotations

import os
import time

from pydantic import BaseModel, ConfigDict

from jobdesk import JobContext, job


def _record(ctx: JobContext) -> None:
    with ctx.db() as conn:  # type: ignore[attr-defined]
        conn.execute(
            "INSERT INTO test_executions (job_id, attempt, worker_pid) VALUES (%s, %s, %s)",
            (ctx.job_id, ctx.attempt, os.getpid()),
        )


class SleepData(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: float = 0.0
    steps: int = 1


@job("test.noop", queue="test")
def noop(ctx: JobContext, data: dict) -> dict:
    return {"ok": True}


@job("test.record", queue="test")
def record(ctx: JobContext, data: dict) -> dict:
    _record(ctx)
    time.sleep(float(data.get("seconds", 0)))
    return {"attempt": ctx.attempt}


@job("test.sleep", queue="test", schema=SleepData)
def sleep(ctx: JobContext, data: dict) -> dict:
    """Sleeps in steps, reporting progress at each (and so honouring cancellation)."""
    _record(ctx)
    steps = max(1, data["steps"])
    for i in range(steps):
        time.sleep(data["seconds"] / steps)
        ctx.progress(i + 1, steps, f"step {i + 1} of {steps}")
    return {"steps": steps}


@job("test.fail", queue="test", max_attempts=4, backoff_base=0.3, backoff_cap=10)
def fail(ctx: JobContext, data: dict) -> None:
    _record(ctx)
    raise ValueError(f"failure on attempt {ctx.attempt}")


@job("test.flaky", queue="test", max_attempts=3, backoff_base=0.1)
def flaky(ctx: JobContext, data: dict) -> dict:
    _record(ctx)
    if ctx.attempt < int(data.get("succeed_on", 2)):
        raise RuntimeError(f"flaky failure on attempt {ctx.attempt}")
    return {"attempt": ctx.attempt}


@job("test.stubborn", queue="test")
def stubborn(ctx: JobContext, data: dict) -> None:
    """Never checks for cancellation: only an interruption stops it."""
    _record(ctx)
    deadline = time.monotonic() + float(data.get("seconds", 30))
    x = 0
    while time.monotonic() < deadline:
        x += 1


@job("test.async", queue="test")
async def async_job(ctx: JobContext, data: dict) -> dict:
    import asyncio

    await asyncio.sleep(0.01)
    ctx.progress(1, 1, "done")
    return {"async": True}


@job("test.echo", queue="test")
def echo(ctx: JobContext, data: dict) -> object:
    """Returns what it is asked to: a float named in data['special'] ('nan', 'inf'), or data['value']."""
    special = data.get("special")
    return float(special) if special else data.get("value")
