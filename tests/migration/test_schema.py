"""Running every migration from zero gives exactly the declared schema.sql."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from jobdesk.store import migrate, sql
from jobdesk.store.db import drop_database, ensure_database
from tests.conftest import BASE_URL

CATALOG = {
    "columns": """
        SELECT table_name, column_name, data_type, is_nullable, column_default
        FROM information_schema.columns WHERE table_schema = 'public'
          AND table_name <> 'jobdesk_migrations'
        ORDER BY 1, 2""",
    "indexes": """
        SELECT tablename, indexname, indexdef FROM pg_indexes
        WHERE schemaname = 'public' AND tablename <> 'jobdesk_migrations' ORDER BY 1, 2""",
    "constraints": """
        SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
        FROM pg_constraint WHERE connamespace = 'public'::regnamespace
          AND conrelid::regclass::text <> 'jobdesk_migrations'
        ORDER BY 1, 2""",
    "triggers": """
        SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid) FROM pg_trigger
        WHERE NOT tgisinternal ORDER BY 1, 2""",
    "functions": """
        SELECT proname, pg_get_function_identity_arguments(oid), provolatile, md5(prosrc)
        FROM pg_proc WHERE pronamespace = 'public'::regnamespace ORDER BY 1, 2""",
    "storage": """
        SELECT relname, reloptions FROM pg_class
        WHERE relnamespace = 'public'::regnamespace AND reloptions IS NOT NULL ORDER BY 1""",
}


def _catalog(url: str) -> dict[str, list[tuple]]:
    with psycopg.connect(url) as conn:
        return {k: conn.execute(q).fetchall() for k, q in CATALOG.items()}


@pytest.fixture
def two_databases():
    urls = [f"{BASE_URL}/jobdesk_mig_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    yield urls
    for url in urls:
        drop_database(url)


def test_migrations_produce_schema_sql(two_databases):
    migrated, declared = two_databases
    applied = migrate.upgrade(migrated)
    assert applied == [v for v, _ in sql.migrations()]
    ensure_database(declared)
    with psycopg.connect(declared, autocommit=True) as conn:
        conn.execute(sql.schema().encode())
    a, b = _catalog(migrated), _catalog(declared)
    for key in CATALOG:
        assert a[key] == b[key], f"{key} differ between migrations and schema.sql"
    assert a["columns"], "nothing was compared"


def test_upgrade_is_idempotent_and_recorded(two_databases):
    url = two_databases[0]
    first = migrate.upgrade(url)
    assert first and migrate.upgrade(url) == []
    with psycopg.connect(url) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM jobdesk_migrations ORDER BY 1")]
    assert versions == first
