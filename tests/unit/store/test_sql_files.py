from jobdesk.store import sql


def test_named_queries_parse():
    parsed = sql.parse("-- name: a\nSELECT 1;\n-- name: b\n-- a comment\nSELECT 2;\n")
    assert parsed == {"a": "SELECT 1", "b": "-- a comment\nSELECT 2"}


def test_every_state_change_notifies():
    for name in (
        "insert_job",
        "start_jobs",
        "progress_jobs",
        "finish_jobs",
        "cancel_pending",
        "request_cancel_active",
        "retry_job",
        "recover_orphans",
    ):
        assert "pg_notify" in sql.q(name), name


def test_migrations_are_ordered():
    versions = [v for v, _ in sql.migrations()]
    assert versions == sorted(versions) and versions[0] == "0001_initial"
