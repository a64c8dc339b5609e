"""Paints the job table's progress column as a progress bar with its text inside.

A delegate, not an index widget: a widget per row would cost a QObject per
job and a relayout per scroll; painting costs nothing for rows off screen.
"""

from __future__ import annotations

from jobdesk.ui import resources
from jobdesk.ui.models.jobs import ProgressRole
from jobdesk.ui.qt import ModelIndex, core, gui, widgets


class ProgressDelegate(widgets.QStyledItemDelegate):
    """Draws `index.data(role)`, a (percentage, text, status) triple; other cells as usual."""

    def __init__(self, parent: core.QObject | None = None, role: int = ProgressRole) -> None:
        super().__init__(parent)
        self.role = role

    def paint(self, painter: gui.QPainter, option: widgets.QStyleOptionViewItem, index: ModelIndex) -> None:
        value = index.data(self.role)
        if value is None:
            super().paint(painter, option, index)
            return
        percentage, text, status = value
        if status == "pending" and not text:
            super().paint(painter, option, index)
            return
        # Selection and hover backgrounds first, as the plain cells get.
        background = widgets.QStyleOptionViewItem(option)
        self.initStyleOption(background, index)
        background.text = ""
        style = option.widget.style() if option.widget else widgets.QApplication.style()
        panel = widgets.QStyle.PrimitiveElement.PE_PanelItemViewItem
        style.drawPrimitive(panel, background, painter, option.widget)

        bar = widgets.QStyleOptionProgressBar()
        bar.rect = option.rect.adjusted(4, 4, -4, -4)
        bar.minimum = 0
        bar.maximum = 1000
        bar.progress = int(percentage * 10)
        # Fusion centres the label without clipping it: elide it to the bar, or it spills into the next cells.
        bar.text = option.fontMetrics.elidedText(text, core.Qt.TextElideMode.ElideRight, bar.rect.width() - 8)
        bar.textVisible = True
        bar.textAlignment = core.Qt.AlignmentFlag.AlignCenter
        bar.state = option.state | widgets.QStyle.StateFlag.State_Horizontal
        bar.palette = gui.QPalette(option.palette)
        bar.palette.setColor(gui.QPalette.ColorRole.Highlight, resources.current().status_color(status))
        bar.fontMetrics = option.fontMetrics
        painter.save()
        painter.setClipRect(option.rect)
        style.drawControl(widgets.QStyle.ControlElement.CE_ProgressBar, bar, painter, option.widget)
        painter.restore()
