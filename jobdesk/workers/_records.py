"""Streaming record readers and writers for CSV, JSON arrays and JSON Lines.

A record is a flat dict. Readers yield `(line, record)` one at a time, or
`(line, BadRow)` for a row that is wrong but leaves the rest of the file
readable; writers take records one at a time. Nothing holds more than one
record, so memory stays flat whatever the file's size.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from jobdesk.workers._json_stream import JsonArrayReader

Format = Literal["csv", "json", "jsonl"]
Record = dict[str, Any]
FORMAT_BY_SUFFIX: dict[str, Format] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
SUFFIX_BY_FORMAT: dict[Format, str] = {"csv": ".csv", "json": ".json", "jsonl": ".jsonl"}
# One encoder for every record: json.dumps with non-default options builds a new one per call.
_encode = json.JSONEncoder(ensure_ascii=False).encode


class BadRow(ValueError):
    """A row that cannot be read; the message names its line."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.reason = message


def format_of(path: str) -> Format | None:
    return FORMAT_BY_SUFFIX.get(Path(path).suffix.lower())


@dataclass
class Source:
    """An open input: text for the readers, the byte position for progress."""

    text: IO[str]
    binary: IO[bytes]

    @property
    def bytes_read(self) -> int:
        # The text layer reads ahead in blocks of a few KB: close enough for a progress bar.
        return self.binary.tell()


def open_source(path: Path, encoding: str) -> Source:
    binary = path.open("rb")
    # newline="" leaves line endings to the csv module (quoted fields may hold newlines).
    text = io.TextIOWrapper(binary, encoding=encoding, newline="")
    return Source(text=text, binary=binary)


# -- reading -----------------------------------------------------------------


def read_records(
    fmt: Format, source: IO[str], *, delimiter: str = ",", infer_types: bool = False
) -> Iterator[tuple[int, Record | BadRow]]:
    if fmt == "csv":
        return _read_csv(source, delimiter, infer_types)
    if fmt == "jsonl":
        return _read_jsonl(source)
    return _read_json_array(source)


def _read_csv(source: IO[str], delimiter: str, infer: bool) -> Iterator[tuple[int, Record | BadRow]]:
    reader = csv.reader(source, delimiter=delimiter, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise BadRow(1, f"unreadable header: {exc}") from None
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise BadRow(1, f"duplicate column names in the header: {', '.join(duplicates)}")
    while True:
        line = reader.line_num + 1  # where the next record starts
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield line, BadRow(line, f"malformed CSV: {exc}")
            continue
        if not row:
            continue  # a blank line is not a record
        if len(row) != len(header):
            yield line, BadRow(line, f"{len(row)} fields, but the header has {len(header)}")
            continue
        yield line, {name: (infer_value(v) if infer else v) for name, v in zip(header, row, strict=True)}


def _read_jsonl(source: IO[str]) -> Iterator[tuple[int, Record | BadRow]]:
    for line, text in enumerate(source, start=1):
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            yield line, BadRow(line, f"invalid JSON: {exc.msg} (column {exc.colno})")
            continue
        yield line, _as_record(line, value)


def _read_json_array(source: IO[str]) -> Iterator[tuple[int, Record | BadRow]]:
    # A malformed element leaves no safe point to resume from, so the reader
    # raises (JsonStreamError names the line) instead of yielding a BadRow.
    for line, value in JsonArrayReader(source):
        yield line, _as_record(line, value)


def _as_record(line: int, value: Any) -> Record | BadRow:
    if not isinstance(value, dict):
        return BadRow(line, f"expected a JSON object, found {type(value).__name__}")
    return value


_INT = re.compile(r"[+-]?(0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[+-]?([0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)([eE][+-]?[0-9]+)?")


def infer_value(text: str) -> Any:
    """A CSV cell as the JSON value it most plainly is.

    Numbers with leading zeros ("007", zip codes) stay strings, as they are
    identifiers rather than quantities; an empty cell becomes null.
    """
    if text == "":
        return None
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text) and not re.match(r"[+-]?0[0-9]", text):
        return float(text)
    return text


# -- writing -----------------------------------------------------------------


class RecordWriter:
    """Writes records one at a time; `close()` finishes the file's structure."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.count = 0

    def write(self, line: int, record: Record) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Write what must follow the last record."""


class JsonlWriter(RecordWriter):
    def write(self, line: int, record: Record) -> None:
        self.out.write(_encode(record))
        self.out.write("\n")
        self.count += 1


class JsonArrayWriter(RecordWriter):
    def write(self, line: int, record: Record) -> None:
        self.out.write(",\n" if self.count else "[\n")
        self.out.write(_encode(record))
        self.count += 1

    def close(self) -> None:
        self.out.write("\n]\n" if self.count else "[]\n")


class CsvWriter(RecordWriter):
    """CSV needs its columns before the first row: given, or the first record's keys.

    A later record with a key outside those columns is an error rather than a
    silently dropped value; listing `columns` lets a caller choose.
    """

    def __init__(self, out: IO[str], *, delimiter: str, columns: list[str] | None) -> None:
        super().__init__(out)
        self._writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
        self._columns = columns
        self._fixed = columns is not None
        self._header_written = False

    def write(self, line: int, record: Record) -> None:
        if self._columns is None:
            self._columns = list(record)
        if not self._header_written:
            self._writer.writerow(self._columns)
            self._header_written = True
        if not self._fixed:
            extra = [key for key in record if key not in self._columns]
            if extra:
                raise BadRow(
                    line,
                    f"field(s) {', '.join(extra)} not among the CSV columns "
                    f"({', '.join(self._columns)}); list every column in options.columns",
                )
        self._writer.writerow([csv_cell(record.get(name)) for name in self._columns])
        self.count += 1

    def close(self) -> None:
        if not self._header_written and self._columns:
            self._writer.writerow(self._columns)

    @property
    def columns(self) -> list[str]:
        return list(self._columns or [])


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return _encode(value)
    return str(value)


def make_writer(
    fmt: Format, out: IO[str], *, delimiter: str = ",", columns: list[str] | None = None
) -> RecordWriter:
    if fmt == "csv":
        return CsvWriter(out, delimiter=delimiter, columns=columns)
    if fmt == "jsonl":
        return JsonlWriter(out)
    return JsonArrayWriter(out)
