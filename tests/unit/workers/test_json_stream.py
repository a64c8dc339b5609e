from __future__ import annotations

import io
import json

import pytest

from jobdesk.workers._json_stream import JsonArrayReader, JsonStreamError

DOC = '[\n  {"a": 123456, "s": "x\\ny ]"},\n  {"b": [1, 2, {"c": null}]},\n  7890,\n  true\n]\n'


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 1 << 16])
def test_any_window_size_reads_the_same_elements(chunk: int) -> None:
    got = list(JsonArrayReader(io.StringIO(DOC), chunk_chars=chunk))
    assert [v for _, v in got] == json.loads(DOC)
    assert [line for line, _ in got] == [2, 3, 4, 5]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": 1}', "line 1: expected a JSON array"),
        ('[{"a": 1}\n {"b": 2}]', "line 2: expected ',' or ']'"),
        ('[{"a": 1},\n\n {"b": }]', "line 3: invalid JSON"),
        ('[{"a": 1},', "line 1: invalid JSON"),
        ('[{"a": 1}', "unexpected end of file"),
        ('[{"a": 1}] x', "unexpected data after the array"),
    ],
)
def test_malformed_input_names_the_line(text: str, message: str) -> None:
    with pytest.raises(JsonStreamError, match=message):
        list(JsonArrayReader(io.StringIO(text), chunk_chars=4))


def test_empty_array() -> None:
    assert list(JsonArrayReader(io.StringIO(" [ ] \n"))) == []
