"""data-conversion: CSV, JSON (an array of objects) and JSON Lines, in every direction.

The conversion streams: one record is in memory at a time (see _records and
_json_stream), so a 1 GB input converts in flat memory. The output is written
to a temporary file and renamed into place only when the whole input has been
read, so a failed or cancelled job leaves no half-written file.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any, Literal

from pydantic import AliasChoices, Field, model_validator

from jobdesk.core.context import JobContext
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
    SUFFIX_BY_FORMAT,
    BadRow,
    Format,
    Record,
    format_of,
    make_writer,
    open_source,
    read_records,
)

# Report progress every this many rows: often enough for a smooth bar, rarely
# enough that the call costs nothing next to the rows themselves.
PROGRESS_EVERY = 2000
MAX_LISTED_ERRORS = 20


class ConversionOptions(Schema):
    delimiter: str = Field(
        default=",", min_length=1, max_length=1, description="CSV input delimiter"
    )
    output_delimiter: str | None = Field(
        default=None, min_length=1, max_length=1, description="CSV output delimiter (default: delimiter)"
    )
    encoding: Encoding = "utf-8"
    output_encoding: Encoding = "utf-8"
    columns: list[str] | None = Field(
        default=None, min_length=1, description="keep only these input columns, in this order"
    )
    rename: dict[str, str] = Field(default_factory=dict, description="input name -> output name")
    infer_types: bool = Field(
        default=True, description="CSV to JSON: numbers, booleans and empty cells become JSON values"
    )
    progress_by: Literal["bytes", "rows"] = Field(
        default="bytes", description="rows costs one extra pass over the input to count them"
    )
    on_error: Literal["fail", "skip"] = Field(
        default="fail", description="a bad row fails the job, or is skipped and counted"
    )

    @model_validator(mode="after")
    def _distinct_output_names(self) -> ConversionOptions:
        names = [self.rename.get(c, c) for c in (self.columns or [])]
        if len(set(names)) != len(names):
            raise ValueError("columns and rename give two output columns the same name")
        targets = list(self.rename.values())
        if len(set(targets)) != len(targets):
            raise ValueError("rename maps two columns to the same name")
        return self


class DataConversionData(Schema):
    # `filePath` is what the original design's examples call the input.
    input_path: DataPath = Field(
        validation_alias=AliasChoices("inputPath", "filePath", "input_path")
    )
    output_path: DataPath | None = None
    input_format: Format | None = None
    output_format: Format | None = None
    options: ConversionOptions = Field(default_factory=ConversionOptions)

    @model_validator(mode="after")
    def _formats_known(self) -> DataConversionData:
        if self.input_format is None:
            self.input_format = format_of(self.input_path)
            if self.input_format is None:
                raise ValueError("inputFormat is required: the input's extension does not tell it")
        if self.output_format is None:
            self.output_format = format_of(self.output_path) if self.output_path else None
            if self.output_format is None:
                raise ValueError("outputFormat is required (csv, json or jsonl)")
        return self

    def default_output(self) -> str:
        assert self.output_format is not None
        path = PurePosixPath(self.input_path)
        candidate = path.with_suffix(SUFFIX_BY_FORMAT[self.output_format])
        if candidate == path:
            candidate = path.with_name(f"{path.stem}.converted{path.suffix}")
        return str(candidate)


@job("data-conversion", schema=DataConversionData)
def convert(ctx: JobContext, data: dict[str, Any]) -> dict[str, Any]:
    """Convert a data file between CSV, JSON and JSON Lines, streaming."""
    spec = DataConversionData.model_validate(data)
    assert spec.input_format is not None and spec.output_format is not None
    options = spec.options
    source_path = ctx.resolve_path(spec.input_path)
    target_path = ctx.resolve_path(spec.output_path or spec.default_output())
    if not source_path.is_file():
        raise FileNotFoundError(f"input file {spec.input_path!r} not found in the data directory")
    if target_path == source_path:
        raise ValueError("outputPath must differ from inputPath")

    total_bytes = source_path.stat().st_size
    total_rows = _count_rows(ctx, source_path, spec) if options.progress_by == "rows" else 0
    out_columns = [options.rename.get(c, c) for c in options.columns] if options.columns else None
    infer = options.infer_types and spec.input_format == "csv" and spec.output_format != "csv"

    read = written = 0
    header_checked = spec.input_format != "csv"
    skipped: list[dict[str, Any]] = []
    source = open_source(source_path, reading_encoding(options.encoding))
    with source.text, atomic_text_output(target_path, options.output_encoding) as out:
        writer = make_writer(
            spec.output_format,
            out,
            delimiter=options.output_delimiter or options.delimiter,
            columns=out_columns,
        )
        rows = read_records(
            spec.input_format, source.text, delimiter=options.delimiter, infer_types=infer
        )
        try:
            for line, item in rows:
                read += 1
                try:
                    if isinstance(item, BadRow):
                        raise item
                    if not header_checked:
                        _check_selected_columns(item, options.columns)
                        header_checked = True
                    writer.write(line, _shape(item, options.columns, options.rename))
                    written += 1
                except BadRow as bad:
                    if options.on_error == "fail":
                        raise ValueError(str(bad)) from None
                    skipped.append({"line": bad.line, "error": bad.reason})
                if read % PROGRESS_EVERY == 0:
                    _report(ctx, options.progress_by, read, total_rows, source.bytes_read, total_bytes)
            writer.close()
        except UnicodeDecodeError as exc:
            raise ValueError(
                f"cannot decode the input as {options.encoding} near byte {source.bytes_read}: "
                f"{exc.reason}; set options.encoding"
            ) from None
        _report(ctx, options.progress_by, read, total_rows or read, total_bytes, total_bytes)

    result: dict[str, Any] = {
        "inputPath": relative_to_data_dir(ctx, source_path),
        "outputPath": relative_to_data_dir(ctx, target_path),
        "inputFormat": spec.input_format,
        "outputFormat": spec.output_format,
        "rowsRead": read,
        "rowsWritten": written,
        "rowsSkipped": len(skipped),
        "skipped": skipped[:MAX_LISTED_ERRORS],
        "bytesRead": total_bytes,
        "bytesWritten": target_path.stat().st_size,
    }
    if spec.output_format == "csv":
        result["columns"] = getattr(writer, "columns", [])
    return result


def _shape(record: Record, columns: list[str] | None, rename: dict[str, str]) -> Record:
    if columns is not None:
        record = {name: record.get(name) for name in columns}
    if rename:
        record = {rename.get(name, name): value for name, value in record.items()}
    return record


def _check_selected_columns(record: Record, columns: list[str] | None) -> None:
    # A CSV header is known, so a selected column it lacks is a typo, not a sparse record.
    missing = [name for name in columns or [] if name not in record]
    if missing:
        raise ValueError(
            f"options.columns names {', '.join(missing)}, not in the input's header "
            f"({', '.join(record)})"
        )


def _report(
    ctx: JobContext, by: str, rows: int, total_rows: int, position: int, total_bytes: int
) -> None:
    if by == "rows":
        ctx.progress(rows, max(total_rows, rows), f"Converted {rows:,} of {total_rows:,} rows")
    else:
        ctx.progress(
            position,
            total_bytes,
            f"Converted {rows:,} rows ({human_bytes(position)} of {human_bytes(total_bytes)})",
        )


def _count_rows(ctx: JobContext, path: Path, spec: DataConversionData) -> int:
    """The rows in the input: a full read, the price of exact row-based progress."""
    assert spec.input_format is not None
    source = open_source(path, reading_encoding(spec.options.encoding))
    total_bytes = path.stat().st_size
    count = 0
    with source.text:
        for count, _ in enumerate(
            read_records(spec.input_format, source.text, delimiter=spec.options.delimiter), 1
        ):
            if count % (PROGRESS_EVERY * 10) == 0:
                ctx.progress(0, 0, f"Counting rows: {count:,} ({human_bytes(source.bytes_read)} "
                             f"of {human_bytes(total_bytes)})")
    return count
