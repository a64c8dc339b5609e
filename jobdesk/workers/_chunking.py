"""Splitting text into overlapping chunks that end at natural boundaries."""

from __future__ import annotations

from dataclasses import dataclass

# Where a chunk prefers to end, best first: a paragraph, a sentence, a line, a word.
_BREAKS = ("\n\n", ". ", "! ", "? ", "\n", " ")


@dataclass(frozen=True, slots=True)
class Chunk:
    start: int  # offset of the chunk's first character in the text
    text: str


def chunk_text(text: str, size: int, overlap: int) -> list[Chunk]:
    """Chunks of at most `size` characters; each repeats about `overlap` of the previous.

    A chunk ends at the best boundary in the later part of its window, so it
    rarely cuts a sentence. That part starts far enough in that every step
    advances by at least (size - overlap) / 2: chunking is linear and cannot
    stall however the text is shaped.
    """
    if not 0 <= overlap < size:
        raise ValueError("overlap must be at least 0 and less than size")
    chunks: list[Chunk] = []
    start, n = 0, len(text)
    earliest_break = overlap + (size - overlap) // 2
    while start < n:
        end = min(start + size, n)
        if end < n:
            end = start + _best_break(text[start:end], earliest_break)
        piece = text[start:end]
        stripped = piece.strip()
        if stripped:
            chunks.append(Chunk(start + len(piece) - len(piece.lstrip()), stripped))
        if end >= n:
            break
        start = _word_start(text, max(end - overlap, start + 1), end)
    return chunks


def _best_break(window: str, earliest: int) -> int:
    for separator in _BREAKS:
        found = window.rfind(separator, earliest)
        if found != -1:
            return found + len(separator)
    return len(window)  # one long word: cut it


def _word_start(text: str, position: int, limit: int) -> int:
    """Move an overlap's start forward to the next word, so a chunk does not begin mid-word."""
    if position == 0 or text[position - 1].isspace():
        return position
    for i in range(position, limit):
        if text[i].isspace():
            return i + 1
    return position
