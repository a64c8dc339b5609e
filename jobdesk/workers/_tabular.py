"""A CSV with a target column, as arrays a model can learn from.

Training needs the whole table in memory (every epoch revisits every row),
so unlike data-conversion this reads the file at once; `MAX_ROWS` keeps a
mistaken 1 GB input from taking the worker down with it.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAX_ROWS = 2_000_000
MISSING = "(missing)"


@dataclass
class Table:
    features: list[str]
    numeric: list[str]  # features read as numbers; the others are categories
    x: np.ndarray  # object array, rows x features: floats (nan if empty) or strings
    y: np.ndarray  # object array of target values as read
    skipped_rows: int  # rows whose target was empty


def read_table(
    path: Path,
    target: str,
    features: list[str] | None,
    *,
    delimiter: str = ",",
    encoding: str = "utf-8",
    numeric: list[str] | None = None,
) -> Table:
    """Read `path`; `numeric` fixes which features are numbers (a saved model's), else inferred."""
    with path.open(newline="", encoding=encoding) as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        header = next(reader, None)
        if not header:
            raise ValueError(f"{path.name} is empty")
        names = _choose_columns(header, target, features)
        index = {name: i for i, name in enumerate(header)}
        rows: list[list[str]] = []
        lines: list[int] = []
        labels: list[str] = []
        skipped = 0
        for row in reader:
            if not row:
                continue
            if len(row) != len(header):
                raise ValueError(
                    f"line {reader.line_num}: {len(row)} fields, but the header has {len(header)}"
                )
            label = row[index[target]].strip()
            if label == "":
                skipped += 1
                continue
            rows.append([row[index[name]].strip() for name in names])
            lines.append(reader.line_num)
            labels.append(label)
            if len(rows) > MAX_ROWS:
                raise ValueError(f"more than {MAX_ROWS:,} rows: too many to train on in memory")
    if numeric is None:
        numeric = [n for i, n in enumerate(names) if all(_is_number(r[i]) for r in rows)]
    x = np.empty((len(rows), len(names)), dtype=object)
    for i, name in enumerate(names):
        column = [r[i] for r in rows]
        x[:, i] = _numbers(column, lines, name) if name in numeric else [v or MISSING for v in column]
    return Table(names, list(numeric), x, np.array(labels, dtype=object), skipped)


def _choose_columns(header: list[str], target: str, features: list[str] | None) -> list[str]:
    wanted = [target, *(features or [])]
    missing = [name for name in wanted if name not in header]
    if missing:
        raise ValueError(f"column(s) {', '.join(missing)} not in the file (it has: {', '.join(header)})")
    chosen = features or [name for name in header if name != target]
    if target in chosen:
        raise ValueError(f"the target {target!r} cannot also be a feature")
    if not chosen:
        raise ValueError("no feature columns besides the target")
    return chosen


def _is_number(text: str) -> bool:
    if text == "":
        return True  # an empty cell does not make a numeric column categorical
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _numbers(column: list[str], lines: list[int], name: str) -> list[float]:
    out = []
    for line, text in zip(lines, column, strict=True):
        try:
            out.append(float(text) if text else math.nan)
        except ValueError:
            raise ValueError(f"line {line}: column {name!r} holds numbers, not {text!r}") from None
    return out
