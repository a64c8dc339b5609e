"""The named queries of schedules, notifications and metrics (store/sql/extras.sql)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from psycopg.rows import dict_row

from jobdesk.store import sql
from jobdesk.store.db import AsyncPool


@cache
def _queries() -> dict[str, str]:
    return sql.parse(resources.files(sql.__name__).joinpath("extras.sql").read_text())


def xq(name: str) -> str:
    return _queries()[name]


async def fetch(pool: AsyncPool, name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Run a named query of extras.sql on a pooled connection; its rows, if it returns any."""
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(xq(name), params)
        return await cur.fetchall() if cur.description else []
