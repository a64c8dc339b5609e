"""What the built-in job types share: strict schemas, data-dir paths, safe output files."""

from __future__ import annotations

import codecs
import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import IO, Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from jobdesk.core.context import JobContext


class Schema(BaseModel):
    """Base of every job type's `data` schema.

    Unknown fields are refused (a typo must not silently fall back to a
    default). Fields are snake_case in Python and camelCase on the wire, like
    the rest of the REST contract; the stored data is dumped camelCase too, so
    a client reads back the names it wrote.
    """

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )


def _check_path(value: str) -> str:
    # Only the syntax can be checked when a job is created: the data directory
    # is the worker's, known at run time, where ctx.resolve_path has the last word.
    if not value.strip() or "\x00" in value:
        raise ValueError("must be a non-empty path")
    if ".." in PurePosixPath(value.replace("\\", "/")).parts:
        raise ValueError("may not contain '..'")
    return value


def _check_encoding(value: str) -> str:
    try:
        codecs.lookup(value)
    except LookupError:
        raise ValueError(f"unknown encoding {value!r}") from None
    return value


# A file path relative to JOBDESK_DATA_DIR (or absolute inside it).
DataPath = Annotated[str, Field(max_length=1024), AfterValidator(_check_path)]
Encoding = Annotated[str, Field(max_length=40), AfterValidator(_check_encoding)]


def database(ctx: JobContext) -> contextlib.AbstractContextManager[Any]:
    """The engine's `ctx.db()`: a psycopg connection (autocommit, dict rows) for job output."""
    return ctx.db()


def relative_to_data_dir(ctx: JobContext, path: Path) -> str:
    """How a result names a file: relative to the data directory, as jobs' data does."""
    return path.relative_to(ctx.data_dir.resolve()).as_posix()


def reading_encoding(encoding: str) -> str:
    # Spreadsheet exports often start with a byte-order mark; reading "utf-8" as
    # "utf-8-sig" drops it instead of gluing it to the first column's name.
    return "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """A temporary path beside `target` that becomes `target` only on success.

    A failed or cancelled job leaves no half-written output behind, and a
    reader of `target` never sees a partial file.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_text_output(target: Path, encoding: str = "utf-8") -> Iterator[IO[str]]:
    """Write text to `target` through atomic_path; newline="" so writers control line ends."""
    with atomic_path(target) as tmp, tmp.open("w", encoding=encoding, newline="") as handle:
        yield handle


def human_bytes(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(count) < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")

