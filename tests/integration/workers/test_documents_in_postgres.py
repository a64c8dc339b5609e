"""document-processing against a real PostgreSQL: rows, real[] vectors, and a similarity query."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest

from jobdesk.config import Settings
from jobdesk.core.errors import JobCancelled
from jobdesk.core.registry import load_job_modules
from jobdesk.workers._embedding import DIMENSIONS, embed
from jobdesk.workers.testing import InlineContext, run_inline
from tests.unit.workers.pdf import make_pdf

TOPICS = {
    "boats.txt": "Sailing boats need wind. The harbour keeps the boats safe in a storm. ",
    "bread.md": "# Bread\n\nKnead the dough, let the bread rise, then bake the bread. ",
}


def insert_job(url: str) -> str:
    job_id = str(uuid.uuid4())
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO jobs (id, type, name, queue, user_id, organization_id)"
            " VALUES (%s, 'document-processing', 'docs', 'document-processing', 'u', 'o')",
            (job_id,),
        )
    return job_id


@pytest.fixture
def ctx(settings: Settings, tmp_path: Path) -> InlineContext:
    load_job_modules([])
    for name, text in TOPICS.items():
        (tmp_path / name).write_text(text * 30)
    (tmp_path / "manual.pdf").write_bytes(make_pdf([["The printer needs paper and toner."]]))
    return InlineContext(
        tmp_path, database_url=settings.database_url, job_id=insert_job(settings.database_url)
    )


def test_chunks_and_vectors_land_in_postgres(ctx: InlineContext, settings: Settings) -> None:
    data = {"paths": ["boats.txt", "bread.md", "manual.pdf"], "chunkSize": 400, "chunkOverlap": 50}
    result = run_inline(ctx, "document-processing", data)
    # A retry of the same job replaces its chunks instead of adding to them.
    again = run_inline(ctx, "document-processing", data)
    assert again["chunkCount"] == result["chunkCount"]
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        count, dims, kind = conn.execute(
            "SELECT count(*), max(array_length(embedding, 1)), pg_typeof(min(embedding))::text"
            " FROM document_chunks WHERE job_id = %s",
            (ctx.job_id,),
        ).fetchone()  # type: ignore[misc]
        best = conn.execute(
            "SELECT document, (SELECT sum(a * b) FROM unnest(embedding, %s::real[]) t(a, b)) AS s"
            " FROM document_chunks WHERE job_id = %s ORDER BY s DESC LIMIT 1",
            (embed(["how long should bread dough rise"])[0].tolist(), ctx.job_id),
        ).fetchone()
    assert count == result["chunkCount"] and dims == DIMENSIONS and kind == "real[]"
    assert best is not None and best[0] == "bread.md"


def test_cancelled_job_leaves_no_chunks(ctx: InlineContext, settings: Settings) -> None:
    ctx.cancel_after = 4
    with pytest.raises(JobCancelled):
        run_inline(
            ctx,
            "document-processing",
            {"paths": ["boats.txt", "bread.md"], "chunkSize": 100, "chunkOverlap": 0},
        )
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM document_chunks WHERE job_id = %s", (ctx.job_id,)).fetchone()
    assert row == (0,)
