"""Schema migrations: SQL files applied in order, each recorded once."""

from __future__ import annotations

from jobdesk.store import sql
from jobdesk.store.db import connect_sync, ensure_database

# Any constant works; it only has to be the same in every jobdesk process.
_LOCK_KEY = 0x6A6F62646B


def upgrade(url: str) -> list[str]:
    """Create the database if missing and apply pending migrations; returns those applied."""
    ensure_database(url)
    applied: list[str] = []
    with connect_sync(url) as conn, conn.transaction():
        # Two processes starting at once must not both apply a migration.
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS jobdesk_migrations ("
            " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["version"] for r in conn.execute("SELECT version FROM jobdesk_migrations")}
        for version, text in sql.migrations():
            if version in done:
                continue
            conn.execute(text.encode())
            conn.execute("INSERT INTO jobdesk_migrations (version) VALUES (%s)", (version,))
            applied.append(version)
    return applied
