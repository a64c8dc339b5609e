"""document-processing: read documents, split them into chunks, embed and store each chunk.

Text, Markdown, HTML and PDF files (see _documents) are split into
overlapping chunks (_chunking), embedded with a deterministic local embedder
(_embedding explains the choice) and written to the `document_chunks` table,
one row per chunk with its vector as real[]. Rows are written in batches on
a connection borrowed per batch, so a long job does not hold a connection.
A retried attempt replaces what an earlier attempt stored; a failed or
cancelled one removes its rows.

Find the chunks nearest a query (vectors are unit length, so the dot product
is the cosine):
    SELECT document, content, (SELECT sum(a * b) FROM unnest(embedding, %(q)s::real[]) t(a, b)) AS score
    FROM document_chunks WHERE job_id = %(job)s ORDER BY score DESC LIMIT 5
with q = _embedding.embed([query])[0].tolist().
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from jobdesk.core.context import JobContext
from jobdesk.core.registry import job
from jobdesk.workers._chunking import Chunk, chunk_text
from jobdesk.workers._common import (
    DataPath,
    Encoding,
    Schema,
    database,
    relative_to_data_dir,
)
from jobdesk.workers._documents import DocFormat, document_format, extract_text
from jobdesk.workers._embedding import DIMENSIONS, EMBEDDER, embed

BATCH = 64
MAX_FILES = 10_000
_INSERT = (
    "INSERT INTO document_chunks (job_id, document, chunk_index, content, char_start, embedding)"
    " VALUES (%s, %s, %s, %s, %s, %s)"
)


class DocumentProcessingData(Schema):
    paths: list[DataPath] = Field(
        min_length=1, max_length=1000, description="files, or folders searched for documents"
    )
    format: Literal["auto", "text", "markdown", "html", "pdf"] = Field(
        default="auto", description="auto: by file extension"
    )
    chunk_size: int = Field(default=1000, ge=100, le=20_000, description="characters per chunk")
    chunk_overlap: int = Field(
        default=150, ge=0, description="characters a chunk shares with the previous"
    )
    encoding: Encoding = "utf-8"

    @model_validator(mode="after")
    def _overlap_smaller(self) -> DocumentProcessingData:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("chunkOverlap must be smaller than chunkSize")
        return self


@job("document-processing", schema=DocumentProcessingData)
def process_documents(ctx: JobContext, data: dict[str, Any]) -> dict[str, Any]:
    """Parse documents, chunk and embed them, store chunks and vectors in PostgreSQL."""
    spec = DocumentProcessingData.model_validate(data)
    documents = _collect(ctx, spec)
    total_bytes = max(1, sum(path.stat().st_size for path, _ in documents))
    with database(ctx) as conn:
        # A retried attempt starts over rather than storing some chunks twice.
        conn.execute("DELETE FROM document_chunks WHERE job_id = %s", (ctx.job_id,))
    done_bytes = 0
    summaries = []
    try:
        for number, (path, fmt) in enumerate(documents, start=1):
            tracker = _Tracker(ctx, relative_to_data_dir(ctx, path), number, len(documents),
                               done_bytes, path.stat().st_size, total_bytes)
            summaries.append(_process_one(ctx, spec, path, fmt, tracker))
            done_bytes += path.stat().st_size
    except BaseException:
        # Cancelled or failed: leave no partial set of chunks behind.
        with contextlib.suppress(Exception), database(ctx) as conn:
            conn.execute("DELETE FROM document_chunks WHERE job_id = %s", (ctx.job_id,))
        raise
    chunks = sum(s["chunks"] for s in summaries)
    ctx.progress(total_bytes, total_bytes, f"Stored {chunks} chunks from {len(documents)} documents")
    return {
        "documents": summaries,
        "documentCount": len(summaries),
        "chunkCount": chunks,
        "characters": sum(s["characters"] for s in summaries),
        "table": "document_chunks",
        "embedder": EMBEDDER,
        "dimensions": DIMENSIONS,
        "chunkSize": spec.chunk_size,
        "chunkOverlap": spec.chunk_overlap,
    }


@dataclass
class _Tracker:
    """Progress weighted by file size, so one large PDF and ten notes move the bar fairly."""

    ctx: JobContext
    name: str
    number: int
    count: int
    before: int  # bytes of the documents already done
    size: int
    total: int

    def report(self, fraction: float, what: str) -> None:
        current = self.before + int(self.size * min(1.0, fraction))
        self.ctx.progress(
            current, self.total, f"Document {self.number} of {self.count} ({self.name}): {what}"
        )


def _process_one(
    ctx: JobContext, spec: DocumentProcessingData, path: Path, fmt: DocFormat, tracker: _Tracker
) -> dict[str, Any]:
    name = tracker.name
    tracker.report(0.0, "reading")
    try:
        text, pages = extract_text(
            path, fmt, spec.encoding,
            on_page=lambda page, total: tracker.report(0.5 * page / total, f"page {page} of {total}"),
        )
    except UnicodeDecodeError as exc:
        raise ValueError(f"{name}: cannot decode as {spec.encoding} ({exc.reason}); "
                         "set encoding") from None
    # Reading a PDF is the slow half; embedding the other. Text files read at once.
    read_share = 0.5 if fmt == "pdf" else 0.1
    chunks = chunk_text(text, spec.chunk_size, spec.chunk_overlap)
    for first in range(0, len(chunks), BATCH):
        batch = chunks[first : first + BATCH]
        _store(ctx, name, first, batch)
        stored = first + len(batch)
        tracker.report(read_share + (1 - read_share) * stored / len(chunks),
                       f"chunk {stored} of {len(chunks)}")
    summary: dict[str, Any] = {
        "path": name, "format": fmt, "characters": len(text), "chunks": len(chunks),
    }
    if pages is not None:
        summary["pages"] = pages
    return summary


def _store(ctx: JobContext, name: str, first_index: int, chunks: list[Chunk]) -> None:
    vectors = embed([c.text for c in chunks])
    rows = [
        (ctx.job_id, name, first_index + i, c.text, c.start, vector.tolist())
        for i, (c, vector) in enumerate(zip(chunks, vectors, strict=True))
    ]
    with database(ctx) as conn, conn.cursor() as cur:
        cur.executemany(_INSERT, rows)


def _collect(ctx: JobContext, spec: DocumentProcessingData) -> list[tuple[Path, DocFormat]]:
    """The documents named by paths: files as given, folders searched for known extensions."""
    found: list[tuple[Path, DocFormat]] = []
    seen: set[Path] = set()
    for given in spec.paths:
        path = ctx.resolve_path(given)
        if path.is_dir():
            candidates = sorted(p for p in path.rglob("*") if p.is_file() and document_format(p))
        elif path.is_file():
            candidates = [path]
        else:
            raise FileNotFoundError(f"{given!r} not found in the data directory")
        for candidate in candidates:
            # A symlink inside a folder must not lead outside the data directory.
            candidate = ctx.resolve_path(str(candidate))
            fmt = document_format(candidate) if spec.format == "auto" else spec.format
            if fmt is None:
                raise ValueError(f"{given!r}: unknown document type; set format "
                                 "(text, markdown, html or pdf)")
            if candidate not in seen:
                seen.add(candidate)
                found.append((candidate, fmt))
    if not found:
        raise ValueError("no documents found under the given paths")
    if len(found) > MAX_FILES:
        raise ValueError(f"{len(found)} documents found; at most {MAX_FILES} per job")
    return found
