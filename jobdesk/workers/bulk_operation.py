"""bulk-operation: one operation over many items, in batches, listing what failed.

Two kinds of items:
- jobs: cancel, retry or delete the jobs that match a filter, within the
  job's own organization (the engine's `ctx.jobs` enforces that). The
  matching ids are read first, so the operation acts on the jobs that
  matched when it started: a retried job that matches again is not retried
  twice. The bulk job never acts on itself.
- the rows of a file: apply declarative transforms (_transforms) to each
  row of a CSV, JSON or JSON Lines file, streaming, into a new file.

An item that fails (a job already finished, a row whose value will not
cast) is listed in the result and the rest go on; `maxFailures` turns too
many failures into a failed job.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, RootModel, model_validator

from jobdesk.core.context import JobContext
from jobdesk.core.errors import JobdeskError
from jobdesk.core.jobs import JobStatus
from jobdesk.core.registry import job
from jobdesk.workers._common import (
    DataPath,
    Encoding,
    Schema,
    atomic_text_output,
    human_bytes,
    reading_encoding,
    relative_to_data_dir,
)
from jobdesk.workers._records import (
    BadRow,
    Format,
    format_of,
    make_writer,
    open_source,
    read_records,
)
from jobdesk.workers._transforms import RowError, Transform, apply_all

LISTED_FAILURES = 100
ID_PAGE = 1000


class JobFilter(Schema):
    type: str | None = None
    status: JobStatus | None = None
    queue: str | None = None

    @model_validator(mode="after")
    def _not_everything(self) -> JobFilter:
        # An empty filter would act on every job of the organization: too easy by accident.
        if not (self.type or self.status or self.queue):
            raise ValueError("give at least one of type, status or queue")
        return self


class JobsOperation(Schema):
    operation: Literal["cancel", "retry", "delete"]
    filter: JobFilter
    batch_size: int = Field(default=100, ge=1, le=1000)
    limit: int = Field(default=10_000, ge=1, le=100_000, description="most jobs acted on")
    dry_run: bool = Field(default=False, description="count and list the matches, change nothing")
    max_failures: int | None = Field(default=None, ge=0)


class TransformOperation(Schema):
    operation: Literal["transform"]
    input_path: DataPath
    output_path: DataPath
    input_format: Format | None = None
    output_format: Format | None = None
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    encoding: Encoding = "utf-8"
    transforms: list[Transform] = Field(min_length=1, max_length=100)
    batch_size: int = Field(default=1000, ge=1, le=100_000)
    max_failures: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _formats_known(self) -> TransformOperation:
        self.input_format = self.input_format or format_of(self.input_path)
        self.output_format = self.output_format or format_of(self.output_path)
        if self.input_format is None:
            raise ValueError("inputFormat is required: the input's extension does not tell it")
        if self.output_format is None:
            raise ValueError("outputFormat is required: the output's extension does not tell it")
        return self


class BulkOperationData(RootModel[Annotated[
    JobsOperation | TransformOperation, Field(discriminator="operation")
]]):
    pass


class TooManyFailures(RuntimeError):
    pass


@job("bulk-operation", schema=BulkOperationData)
def bulk_operation(ctx: JobContext, data: dict[str, Any]) -> dict[str, Any]:
    """Cancel, retry or delete matching jobs, or transform a file's rows, in batches."""
    spec = BulkOperationData.model_validate(data).root
    if isinstance(spec, JobsOperation):
        return _on_jobs(ctx, spec)
    return _on_rows(ctx, spec)


# -- jobs ----------------------------------------------------------------------


def _on_jobs(ctx: JobContext, spec: JobsOperation) -> dict[str, Any]:
    jobs = ctx.jobs
    ids = _matching_ids(ctx, jobs, spec)
    limit_reached = len(ids) > spec.limit
    ids = ids[: spec.limit]
    result: dict[str, Any] = {"operation": spec.operation, "matched": len(ids),
                              "limitReached": limit_reached}
    if spec.dry_run:
        ctx.progress(len(ids), len(ids), f"{len(ids)} jobs match; dry run, nothing changed")
        return {**result, "dryRun": True, "sample": ids[:LISTED_FAILURES]}
    action = getattr(jobs, spec.operation)
    failures: list[dict[str, Any]] = []
    batches = -(-len(ids) // spec.batch_size)
    for number, start in enumerate(range(0, len(ids), spec.batch_size), start=1):
        for job_id in ids[start : start + spec.batch_size]:
            try:
                action(job_id)
            except JobdeskError as exc:
                failures.append({"id": job_id, "code": exc.code, "error": exc.message})
        _check_failures(failures, spec.max_failures)
        done = min(start + spec.batch_size, len(ids))
        ctx.progress(done, len(ids), f"Batch {number} of {batches}: {done - len(failures)} "
                                     f"{_past(spec.operation)}, {len(failures)} failed")
    if not ids:
        ctx.progress(0, 0, "No jobs match the filter")
    return {**result, "succeeded": len(ids) - len(failures), "failed": len(failures),
            "failures": failures[:LISTED_FAILURES], "batches": batches}


def _matching_ids(ctx: JobContext, jobs: Any, spec: JobsOperation) -> list[str]:
    """Up to limit + 1 matching ids (the extra one tells the limit was reached), by id order."""
    flt = spec.filter.model_dump(exclude_none=True, mode="json")
    ids: list[str] = []
    after: str | None = None
    while True:
        ctx.check_cancelled()
        page = jobs.list_ids(flt, ID_PAGE, after)
        ids.extend(i for i in page if i != ctx.job_id)
        if len(ids) > spec.limit or len(page) < ID_PAGE:
            return ids
        after = page[-1]


def _past(operation: str) -> str:
    return {"cancel": "cancelled", "retry": "retried", "delete": "deleted"}[operation]


# -- rows of a file --------------------------------------------------------------


def _on_rows(ctx: JobContext, spec: TransformOperation) -> dict[str, Any]:
    assert spec.input_format is not None and spec.output_format is not None
    source_path = ctx.resolve_path(spec.input_path)
    target_path = ctx.resolve_path(spec.output_path)
    if not source_path.is_file():
        raise FileNotFoundError(f"input file {spec.input_path!r} not found in the data directory")
    if source_path == target_path:
        raise ValueError("outputPath must differ from inputPath")
    size = source_path.stat().st_size
    read = written = filtered = batch = 0
    failures: list[dict[str, Any]] = []
    source = open_source(source_path, reading_encoding(spec.encoding))
    with source.text, atomic_text_output(target_path, spec.encoding) as out:
        writer = make_writer(spec.output_format, out, delimiter=spec.delimiter)
        for line, item in read_records(spec.input_format, source.text, delimiter=spec.delimiter):
            read += 1
            try:
                if isinstance(item, BadRow):
                    raise RowError(item.reason)
                record = apply_all(spec.transforms, item)
                if record is None:
                    filtered += 1
                else:
                    writer.write(line, record)
                    written += 1
            except (RowError, BadRow) as exc:
                reason = exc.reason if isinstance(exc, BadRow) else str(exc)
                failures.append({"line": line, "error": reason})
            if read % spec.batch_size == 0:
                batch += 1
                _check_failures(failures, spec.max_failures)
                ctx.progress(source.bytes_read, size, f"Batch {batch}: {read:,} rows "
                             f"({human_bytes(source.bytes_read)} of {human_bytes(size)}), "
                             f"{len(failures)} failed")
        writer.close()
        _check_failures(failures, spec.max_failures)
    ctx.progress(size, size, f"{read:,} rows: {written:,} written, {filtered:,} filtered out, "
                             f"{len(failures)} failed")
    return {
        "operation": "transform",
        "inputPath": relative_to_data_dir(ctx, source_path),
        "outputPath": relative_to_data_dir(ctx, target_path),
        "rowsRead": read, "rowsWritten": written, "rowsFiltered": filtered,
        "failed": len(failures), "failures": failures[:LISTED_FAILURES],
        "batches": batch + (1 if read % spec.batch_size else 0),
    }


def _check_failures(failures: list[dict[str, Any]], limit: int | None) -> None:
    if limit is not None and len(failures) > limit:
        first = failures[0]
        where = f"line {first['line']}" if "line" in first else f"job {first['id']}"
        raise TooManyFailures(
            f"{len(failures)} items failed, more than maxFailures={limit} "
            f"(first: {where}: {first['error']})"
        )
