"""Job-supplied text (names, errors, stacks) shown as text, never as HTML.

QLabel and tooltips guess: a string that looks like markup is rendered as
rich text. A job named `<img src=...>` or an error message holding HTML must
show those characters, so labels are pinned to plain text and tooltips are
escaped.
"""

from __future__ import annotations

import html
import json
from typing import Any

from jobdesk.ui.qt import core, widgets


def plain_label(text: str = "", object_name: str | None = None) -> widgets.QLabel:
    label = widgets.QLabel()
    label.setTextFormat(core.Qt.TextFormat.PlainText)
    label.setText(text)
    if object_name:
        label.setObjectName(object_name)
    return label


def tooltip(text: str) -> str:
    """A tooltip string that Qt renders exactly as `text`, line breaks included."""
    return f"<p style='white-space:pre'>{html.escape(text)}</p>"


def pretty_json(value: Any) -> str:
    if value is None:
        return ""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)
