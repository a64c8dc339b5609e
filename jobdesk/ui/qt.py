"""The one place the Qt binding is imported (qutebrowser's `qt/` shim, in one file).

Everything else writes `from jobdesk.ui.qt import core, gui, widgets` and
calls `widgets.QTableView`, so a call site shows which Qt module a name comes
from and a change of binding touches this file alone. qasync is here too:
it picks whichever binding is imported first, and this is where that happens.
"""

from __future__ import annotations

# WORKAROUND for shiboken's import hook (see pyzo/pyzo#851 for how it works): once PySide6 is loaded,
# every later import of a .py module runs inspect.getsource on it, which asks pydantic's lazily
# loaded modules for `__wrapped__` and re-enters a half-imported pydantic (ImportError:
# cannot import name 'import_string'). Loading pydantic's core first leaves nothing half-imported.
import pydantic_settings  # noqa: F401
from pydantic import BaseModel, Field, ValidationError  # noqa: F401

# isort: split
from PySide6 import QtCharts as charts
from PySide6 import QtCore as core
from PySide6 import QtGui as gui
from PySide6 import QtSvg as svg
from PySide6 import QtWidgets as widgets
from shiboken6 import isValid as is_alive

# isort: split
# After PySide6 on purpose: qasync binds to the first Qt binding already imported.
import qasync

Signal = core.Signal
Slot = core.Slot
QEventLoop = qasync.QEventLoop
# The index type Qt's model methods receive, and the "no parent" index.
ModelIndex = core.QModelIndex | core.QPersistentModelIndex
NO_PARENT = core.QModelIndex()

__all__ = [
    # Qt modules
    "charts",
    "core",
    "gui",
    "svg",
    "widgets",
    # names used everywhere
    "is_alive",
    "NO_PARENT",
    "ModelIndex",
    "QEventLoop",
    "Signal",
    "Slot",
]
