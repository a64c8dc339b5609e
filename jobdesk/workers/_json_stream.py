"""Reading the objects of a top-level JSON array one at a time.

`json.load` would hold a 1 GB array (several GB as Python objects) at once.
This reader keeps a window of text: it decodes one element with
`JSONDecoder.raw_decode`, drops the text before it, and reads more only when
an element is cut off by the end of the window. Memory is bounded by the
largest element, not by the file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import IO, Any

CHUNK_CHARS = 1 << 16
MAX_ELEMENT_CHARS = 64 << 20
_WHITESPACE = re.compile(r"[ \t\n\r]*")


class JsonStreamError(ValueError):
    """Malformed input; `line` is where the problem starts (1-based)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


class JsonArrayReader:
    """Iterate `(line, element)` over the array in `source`; line is where the element starts."""

    def __init__(self, source: IO[str], *, chunk_chars: int = CHUNK_CHARS) -> None:
        self._source = source
        self._chunk = chunk_chars
        self._buf = ""
        self._pos = 0
        self._line = 1  # line number at self._pos
        self._eof = False
        self._decoder = json.JSONDecoder()

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        if self._next_char() != "[":
            raise JsonStreamError(self._line, "expected a JSON array ('[')")
        self._advance(1)
        if self._next_char() == "]":
            self._advance(1)
            self._expect_end()
            return
        while True:
            self._next_char()
            line = self._line
            yield line, self._decode_element()
            separator = self._next_char()
            if separator == ",":
                self._advance(1)
            elif separator == "]":
                self._advance(1)
                self._expect_end()
                return
            elif separator == "":
                raise JsonStreamError(self._line, "unexpected end of file inside the array")
            else:
                raise JsonStreamError(self._line, f"expected ',' or ']', found {separator!r}")

    def _decode_element(self) -> Any:
        while True:
            try:
                value, end = self._decoder.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError as exc:
                # The element may merely be cut off by the window; only more text
                # (or the end of the file) tells a cut from a real error.
                if self._eof or len(self._buf) - self._pos > MAX_ELEMENT_CHARS:
                    line = self._line + self._buf.count("\n", self._pos, exc.pos)
                    raise JsonStreamError(line, f"invalid JSON: {exc.msg}") from None
                self._fill(max(self._chunk, len(self._buf) - self._pos))
                continue
            if end == len(self._buf) and not self._eof and not isinstance(value, dict | list):
                # A number or literal that touches the window's end may continue
                # past it ("12" of "123"); read on before believing it.
                self._fill(self._chunk)
                continue
            self._advance(end - self._pos)
            return value

    def _next_char(self) -> str:
        """Skip whitespace; the next significant character, or '' at the end of input."""
        while True:
            end = _WHITESPACE.match(self._buf, self._pos).end()  # type: ignore[union-attr]
            self._advance(end - self._pos)
            if self._pos < len(self._buf):
                return self._buf[self._pos]
            if self._eof:
                return ""
            self._fill(self._chunk)

    def _advance(self, count: int) -> None:
        self._line += self._buf.count("\n", self._pos, self._pos + count)
        self._pos += count

    def _fill(self, size: int) -> None:
        # Drop what was consumed so the window does not grow with the file.
        if self._pos:
            self._buf = self._buf[self._pos :]
            self._pos = 0
        text = self._source.read(size)
        if text:
            self._buf += text
        else:
            self._eof = True

    def _expect_end(self) -> None:
        if self._next_char() != "":
            raise JsonStreamError(self._line, "unexpected data after the array")
