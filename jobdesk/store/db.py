"""Connections: creating the database if missing, pools, and readable failures."""

from __future__ import annotations

from typing import TypeAlias, TypedDict

import psycopg
from psycopg import AsyncConnection, sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from jobdesk.core.errors import DatabaseUnavailable


def describe_url(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "(unparseable database URL)"
    host = params.get("host", "localhost")
    return (
        f"postgresql://{params.get('user', '')}@{host}:{params.get('port', 5432)}/{params.get('dbname', '')}"
    )


def unavailable(url: str, exc: Exception) -> DatabaseUnavailable:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return DatabaseUnavailable(
        f"cannot reach PostgreSQL at {describe_url(url)} ({reason}); "
        "check JOBDESK_DATABASE_URL and that the server is running"
    )


def ensure_database(url: str) -> None:
    """Create the database named in url if it does not exist yet."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise DatabaseUnavailable(f"invalid JOBDESK_DATABASE_URL: {exc}") from None
    dbname = str(params.get("dbname") or "postgres")
    try:
        with psycopg.connect(url, connect_timeout=5):
            return
    except psycopg.OperationalError as exc:
        if "does not exist" not in str(exc):
            raise unavailable(url, exc) from None
    admin = make_conninfo(url, dbname="postgres")
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            try:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
            except psycopg.errors.DuplicateDatabase:
                pass
    except psycopg.OperationalError as exc:
        raise unavailable(url, exc) from None


def drop_database(url: str) -> None:
    dbname = conninfo_to_dict(url).get("dbname")
    admin = make_conninfo(url, dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(str(dbname))))


class Session(TypedDict):
    """Connection parameters for a session's settings, passed on as keyword arguments."""

    options: str


# Plan every execution for its parameters. psycopg prepares a statement after a
# few runs, and PostgreSQL then keeps the generic plan it chose at that moment:
# chosen while the jobs table was small (a fresh install, the start of a burst),
# the hot path's primary-key lookups became sequential scans of a growing table.
# Planning costs a fraction of a millisecond; a stale plan cost the whole table.
SESSION: Session = {"options": "-c plan_cache_mode=force_custom_plan"}

# Every pooled connection makes dict rows (row_factory=dict_row below).
AsyncPool: TypeAlias = AsyncConnectionPool[AsyncConnection[DictRow]]
# A worker's pool for its handlers' own queries (dispatch/middleware.py), likewise.
SyncPool: TypeAlias = ConnectionPool[psycopg.Connection[DictRow]]


async def open_pool(url: str, *, max_size: int = 10, min_size: int = 1) -> AsyncPool:
    pool: AsyncPool = AsyncConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        kwargs={"autocommit": True, "row_factory": dict_row, **SESSION},
        open=False,
        name="jobdesk",
    )
    try:
        await pool.open(wait=True, timeout=10)
    except Exception as exc:  # PoolTimeout hides the reason; name the URL
        await pool.close()
        raise unavailable(url, exc) from None
    return pool


# For connections that only ever touch jobs by id (a worker's state writer and
# start checker). Custom plans are not enough there: the planner cannot count
# the rows of a JSON parameter, and while autovacuum's statistics lag a table
# that grows by thousands of rows a second, a few thousand rows look cheaper
# to scan whole than to probe by key. Scans of a growing table cost those
# statements 20-240 ms each under load; every probe stays well under one.
BY_ID_SESSION: Session = {"options": SESSION["options"] + " -c enable_seqscan=off"}


def connect_sync(url: str, *, by_id: bool = False) -> psycopg.Connection[DictRow]:
    session = BY_ID_SESSION if by_id else SESSION
    try:
        return psycopg.connect(url, autocommit=True, row_factory=dict_row, connect_timeout=10, **session)
    except psycopg.OperationalError as exc:
        raise unavailable(url, exc) from None
