"""Plain text out of text, Markdown, HTML and PDF files.

Parsers: pypdf for PDF (pure Python, maintained, no system libraries),
BeautifulSoup with the standard library's html.parser for HTML (tolerant of
real-world markup, no C extension), markdown-it-py for Markdown (CommonMark).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Literal

DocFormat = Literal["text", "markdown", "html", "pdf"]
FORMAT_BY_SUFFIX: dict[str, DocFormat] = {
    ".txt": "text",
    ".text": "text",
    ".log": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
}
# Elements whose text is not part of the document a reader sees.
_HIDDEN_HTML = ("script", "style", "noscript", "template", "head", "svg")
# Elements that start a new line; inline ones (b, a, span, ...) flow with their text.
_BLOCK_HTML = (
    "address",
    "article",
    "aside",
    "blockquote",
    "br",
    "dd",
    "div",
    "dl",
    "dt",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "td",
    "th",
    "tr",
    "ul",
)

PageCallback = Callable[[int, int], None]


def document_format(path: Path) -> DocFormat | None:
    return FORMAT_BY_SUFFIX.get(path.suffix.lower())


def extract_text(
    path: Path, fmt: DocFormat, encoding: str, on_page: PageCallback | None = None
) -> tuple[str, int | None]:
    """The document's text (whitespace tidied) and, for a PDF, its page count."""
    if fmt == "pdf":
        text, pages = _pdf_text(path, on_page)
        return normalize(text), pages
    raw = path.read_text(encoding=encoding)
    if fmt == "markdown":
        return normalize(markdown_text(raw)), None
    if fmt == "html":
        return normalize(html_text(raw)), None
    return normalize(raw), None


def normalize(text: str) -> str:
    # PostgreSQL text cannot hold NUL, which PDF extraction sometimes yields.
    text = text.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"[ \t\f\v]+", " ", text)
    text = re.sub(r" *\n *", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def markdown_text(source: str) -> str:
    """The words of a Markdown document without its markup, a paragraph per block."""
    from markdown_it import MarkdownIt

    blocks: list[str] = []
    for token in MarkdownIt("commonmark").parse(source):
        if token.type == "inline":
            parts = []
            for child in token.children or []:
                if child.type in ("text", "code_inline", "html_inline"):
                    parts.append(child.content)
                elif child.type in ("softbreak", "hardbreak"):
                    parts.append("\n")
                elif child.type == "image":
                    parts.append(child.content)  # the alt text
            blocks.append("".join(parts))
        elif token.type in ("fence", "code_block"):
            blocks.append(token.content.rstrip("\n"))
    return "\n\n".join(b for b in blocks if b.strip())


def html_text(source: str) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(source, "html.parser")
    for element in soup(_HIDDEN_HTML):
        element.decompose()
    for element in soup(_BLOCK_HTML):
        element.insert_before("\n")
        element.insert_after("\n")
    # Adjacent blocks each added a break; one line between them is enough.
    return re.sub(r"\s*\n\s*", "\n", soup.get_text())


def _pdf_text(path: Path, on_page: PageCallback | None) -> tuple[str, int]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            raise ValueError(f"{path.name}: the PDF is encrypted")
        pages = []
        total = len(reader.pages)
        for number, page in enumerate(reader.pages, start=1):
            if on_page is not None:
                on_page(number, total)
            pages.append(page.extract_text() or "")
    except PdfReadError as exc:
        raise ValueError(f"{path.name}: not a readable PDF ({exc})") from None
    return "\n\n".join(pages), total
