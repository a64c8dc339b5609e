from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from jobdesk.core.errors import InvalidJobData, JobCancelled
from jobdesk.core.registry import registry
from jobdesk.workers._chunking import chunk_text
from jobdesk.workers._documents import html_text, markdown_text, normalize
from jobdesk.workers._embedding import DIMENSIONS, cosine, embed
from jobdesk.workers.testing import InlineContext, run_inline
from tests.unit.workers.pdf import make_pdf

SENTENCES = [f"Sentence number {i} talks about topic {i % 7} in some detail." for i in range(400)]


class FakeDb:
    """Stands in for ctx.db(): keeps the rows a handler inserts, and its deletes."""

    def __init__(self) -> None:
        self.rows: list[tuple[Any, ...]] = []
        self.deletes = 0

    @contextlib.contextmanager
    def __call__(self) -> Iterator[FakeDb]:
        yield self

    def execute(self, query: str, params: tuple[Any, ...]) -> None:
        assert query.startswith("DELETE FROM document_chunks WHERE job_id")
        self.deletes += 1
        self.rows = [r for r in self.rows if r[0] != params[0]]

    def cursor(self) -> contextlib.nullcontext[FakeDb]:
        return contextlib.nullcontext(self)

    def executemany(self, query: str, rows: list[tuple[Any, ...]]) -> None:
        assert query.startswith("INSERT INTO document_chunks")
        self.rows.extend(rows)


@pytest.fixture
def docs(data_dir: Path) -> Path:
    folder = data_dir / "docs"
    folder.mkdir()
    (folder / "notes.txt").write_text(" ".join(SENTENCES[:100]))
    (folder / "guide.md").write_text(
        "# Guide\n\nSome **bold** words and `code`.\n\n- item one\n- item two\n\n"
        "```python\nprint('hi')\n```\n"
    )
    (folder / "page.html").write_text(
        "<html><head><title>T</title><style>p{}</style></head><body><h1>Heading</h1>"
        "<p>First <b>para</b>.</p><script>var x = 1;</script><p>Second para.</p></body></html>"
    )
    (folder / "report.pdf").write_bytes(make_pdf([SENTENCES[i : i + 40] for i in range(0, 120, 40)]))
    (folder / "ignored.bin").write_bytes(b"\x00\x01")
    return folder


def make(make_ctx: Any) -> tuple[InlineContext, FakeDb]:
    ctx = make_ctx()
    db = FakeDb()
    ctx.db = db  # type: ignore[method-assign]
    return ctx, db


def test_reads_every_format_and_stores_chunks(make_ctx: Any, docs: Path) -> None:
    ctx, db = make(make_ctx)
    result = run_inline(ctx, "document-processing", {"paths": ["docs"], "chunkSize": 500})
    by_path = {d["path"]: d for d in result["documents"]}
    assert sorted(by_path) == ["docs/guide.md", "docs/notes.txt", "docs/page.html", "docs/report.pdf"]
    assert by_path["docs/report.pdf"]["pages"] == 3
    assert by_path["docs/notes.txt"]["chunks"] > 5
    assert result["chunkCount"] == len(db.rows) == sum(d["chunks"] for d in by_path.values())
    assert result["dimensions"] == DIMENSIONS
    job_id, _document, index, _content, _start, vector = db.rows[0]
    assert job_id == ctx.job_id and index == 0 and len(vector) == DIMENSIONS
    assert abs(np.linalg.norm(vector) - 1) < 1e-5
    pdf_text = " ".join(r[3] for r in db.rows if r[1] == "docs/report.pdf")
    assert "Sentence number 119 talks about topic 0" in pdf_text
    html_rows = [r[3] for r in db.rows if r[1] == "docs/page.html"]
    assert html_rows == ["Heading\nFirst para.\nSecond para."]


def test_progress_names_document_and_chunk(make_ctx: Any, docs: Path) -> None:
    ctx, _ = make(make_ctx)
    run_inline(ctx, "document-processing", {"paths": ["docs/report.pdf", "docs/notes.txt"]})
    messages = [m for _, _, m in ctx.updates]
    assert "Document 1 of 2 (docs/report.pdf): page 2 of 3" in messages
    assert any(m and m.startswith("Document 2 of 2 (docs/notes.txt): chunk") for m in messages)
    currents = [c for c, _, _ in ctx.updates]
    assert currents == sorted(currents) and ctx.updates[-1][0] == ctx.updates[-1][1]


def test_cancel_mid_run_removes_stored_chunks(make_ctx: Any, docs: Path) -> None:
    ctx, db = make(make_ctx)
    (docs / "long.txt").write_text(" ".join(SENTENCES * 3))
    ctx.cancel_after = 3
    with pytest.raises(JobCancelled):
        run_inline(ctx, "document-processing", {"paths": ["docs/long.txt"], "chunkSize": 200})
    assert db.rows == [] and db.deletes == 2  # before the first attempt's rows, and after


def test_markdown_and_html_lose_markup() -> None:
    text = markdown_text("# Title\n\nA [link](http://x) and *emphasis*.\n\n    code block\n")
    assert text == "Title\n\nA link and emphasis.\n\ncode block"
    assert html_text("<p>a<script>b</script>c</p>").strip() == "ac"
    assert normalize(html_text("<ul><li>one</li><li>t<i>w</i>o</li></ul>x<br>y")) == "one\ntwo\nx\ny"


def test_chunks_overlap_and_end_at_sentences() -> None:
    text = " ".join(SENTENCES)
    chunks = chunk_text(text, size=300, overlap=60)
    assert all(len(c.text) <= 300 for c in chunks)
    assert all(text[c.start : c.start + len(c.text)] == c.text for c in chunks)
    assert all(c.text.endswith(".") for c in chunks[:-1])
    for before, after in itertools.pairwise(chunks):
        shared = before.start + len(before.text) - after.start
        assert 0 < shared <= 60
    assert chunks[-1].text.endswith(SENTENCES[-1])


def test_chunking_cannot_stall_on_text_without_spaces() -> None:
    chunks = chunk_text("x" * 10_000, size=100, overlap=99)
    assert len(chunks) <= 10_000 // ((100 - 99) // 2 + 1) + 1
    assert "".join(c.text[:1] for c in chunks)


def test_embedding_is_deterministic_and_lexical() -> None:
    vectors = embed(["the cat sat on the mat", "a cat sat on a mat", "stock prices fell"])
    again = embed(["the cat sat on the mat"])
    assert vectors.shape == (3, DIMENSIONS) and vectors.dtype == np.float32
    assert np.array_equal(vectors[0], again[0])
    scores = cosine(again[0], vectors)
    assert scores[0] == pytest.approx(1.0, abs=1e-5) and scores[1] > scores[2]


def test_schema_checks_at_creation() -> None:
    definition = registry.get("document-processing")
    with pytest.raises(InvalidJobData, match="chunkOverlap must be smaller than chunkSize"):
        definition.validate_data({"paths": ["a.txt"], "chunkSize": 200, "chunkOverlap": 200})
    with pytest.raises(InvalidJobData, match=r"paths\.1: Value error, may not contain"):
        definition.validate_data({"paths": ["a.txt", "x/../../etc"]})
    with pytest.raises(InvalidJobData, match="chunkSize: Input should be a valid integer"):
        definition.validate_data({"paths": ["a.txt"], "chunkSize": "big"})


def test_unknown_files_and_missing_paths_are_named(make_ctx: Any, docs: Path) -> None:
    ctx, _ = make(make_ctx)
    with pytest.raises(ValueError, match=r"'docs/ignored\.bin': unknown document type"):
        run_inline(ctx, "document-processing", {"paths": ["docs/ignored.bin"]})
    with pytest.raises(FileNotFoundError, match=r"'docs/nope\.txt' not found"):
        run_inline(ctx, "document-processing", {"paths": ["docs/nope.txt"]})
