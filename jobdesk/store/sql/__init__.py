"""Named SQL queries, kept in .sql files and loaded once.

A query file holds blocks headed `-- name: NAME`; the lines after it up to
the next header are the query.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_HEADER = re.compile(r"^-- name: ([a-z_]+)\s*$", re.MULTILINE)


def parse(text: str) -> dict[str, str]:
    parts = _HEADER.split(text)
    return {name: body.strip().rstrip(";") for name, body in zip(parts[1::2], parts[2::2], strict=True)}


@cache
def queries() -> dict[str, str]:
    return parse(resources.files(__package__).joinpath("queries.sql").read_text())


def q(name: str) -> str:
    return queries()[name]


def schema() -> str:
    return resources.files(__package__).joinpath("schema.sql").read_text()


def migrations() -> list[tuple[str, str]]:
    """(version, sql) in the order they apply; the version is the file's stem."""
    folder = resources.files(__package__).joinpath("migrations")
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [(f.name.removesuffix(".sql"), f.read_text()) for f in files]
