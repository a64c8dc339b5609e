"""Row transforms for bulk-operation: small, declarative, checked when the job is created.

Each transform takes a record and returns it changed, or None to leave the
row out (filter). A value a transform cannot handle raises RowError: that
row is listed as a failure and the others go on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import Field

from jobdesk.workers._common import Schema
from jobdesk.workers._records import Record


class RowError(ValueError):
    pass


class Rename(Schema):
    op: Literal["rename"]
    fields: dict[str, str] = Field(min_length=1, description="old name -> new name")

    def apply(self, record: Record) -> Record | None:
        return {self.fields.get(k, k): v for k, v in record.items()}


class Drop(Schema):
    op: Literal["drop"]
    fields: list[str] = Field(min_length=1)

    def apply(self, record: Record) -> Record | None:
        return {k: v for k, v in record.items() if k not in self.fields}


class Set(Schema):
    op: Literal["set"]
    field: str
    value: Any = None

    def apply(self, record: Record) -> Record | None:
        return {**record, self.field: self.value}


_CASE: dict[str, Callable[[str], str]] = {
    "uppercase": str.upper,
    "lowercase": str.lower,
    "strip": str.strip,
}


class Case(Schema):
    op: Literal["uppercase", "lowercase", "strip"]
    fields: list[str] = Field(min_length=1)

    def apply(self, record: Record) -> Record | None:
        out = dict(record)
        for name in self.fields:
            value = _field(record, name)
            if value is None:
                continue
            if not isinstance(value, str):
                raise RowError(f"{self.op}: field {name!r} is {type(value).__name__}, not text")
            out[name] = _CASE[self.op](value)
        return out


class Replace(Schema):
    op: Literal["replace"]
    field: str
    old: str = Field(min_length=1)
    new: str

    def apply(self, record: Record) -> Record | None:
        value = _field(record, self.field)
        if value is None:
            return record
        if not isinstance(value, str):
            raise RowError(f"replace: field {self.field!r} is {type(value).__name__}, not text")
        return {**record, self.field: value.replace(self.old, self.new)}


class Cast(Schema):
    op: Literal["cast"]
    field: str
    to: Literal["int", "float", "str", "bool"]

    def apply(self, record: Record) -> Record | None:
        value = _field(record, self.field)
        if value is None or value == "":
            return {**record, self.field: None}
        try:
            return {**record, self.field: _cast(value, self.to)}
        except (TypeError, ValueError):
            raise RowError(f"cast: field {self.field!r} value {value!r} is not {self.to}") from None


class Filter(Schema):
    """Keep only rows whose field equals `equals` (or is one of `in`)."""

    op: Literal["filter"]
    field: str
    equals: Any = None
    one_of: list[Any] | None = Field(default=None, alias="in")

    def apply(self, record: Record) -> Record | None:
        value = record.get(self.field)
        keep = value in self.one_of if self.one_of is not None else value == self.equals
        return record if keep else None


Transform = Annotated[
    Rename | Drop | Set | Case | Replace | Cast | Filter, Field(discriminator="op")
]


def apply_all(transforms: list[Transform], record: Record) -> Record | None:
    current = record
    for transform in transforms:
        changed = transform.apply(current)
        if changed is None:
            return None
        current = changed
    return current


def _field(record: Record, name: str) -> Any:
    if name not in record:
        raise RowError(f"no field {name!r}")
    return record[name]


def _cast(value: Any, to: str) -> Any:
    if to == "str":
        return str(value)
    if to == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "1", "yes", "y"):
            return True
        if text in ("false", "0", "no", "n"):
            return False
        raise ValueError(text)
    if to == "int":
        number = float(value)
        if not number.is_integer():
            raise ValueError(value)
        return int(number)
    return float(value)
