"""Waiting on jobs through the service, for async engine tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any


async def eventually(
    check: Callable[[], Awaitable[Any]], timeout: float = 30, what: str = "condition"
) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


async def wait_status(service, job_id: str, statuses: set[str], timeout: float = 30):
    async def check():
        job = await service.get_job(job_id)
        return job if job.status.value in statuses else None

    return await eventually(check, timeout, f"job {job_id} to reach {statuses}")


async def count(pool, sql: str, *params: Any) -> int:
    async with pool.connection() as conn:
        row = await (await conn.execute(sql, params)).fetchone()
    return int(next(iter(row.values())))
