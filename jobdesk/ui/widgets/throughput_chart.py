"""Jobs finished per minute over the last hour, completed and failed, as a chart (QtCharts)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from jobdesk.ui import resources
from jobdesk.ui.qt import charts, core, gui

MINUTES = 60


Minute = tuple[datetime, int, int]


def per_minute(points: list[dict[str, Any]], now: datetime, minutes: int = MINUTES) -> list[Minute]:
    """The last complete minutes, zeros included: (minute start, completed, failed), oldest first.

    The minute under way is left out: drawn, it would always look like a sudden drop.
    """
    end = now.astimezone(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    slots = {end - timedelta(minutes=i): [0, 0] for i in range(minutes)}
    for p in points:
        try:
            minute = datetime.fromisoformat(p["minute"]).astimezone(UTC)
        except (KeyError, TypeError, ValueError):
            continue
        if minute in slots:
            slots[minute] = [int(p.get("completed", 0)), int(p.get("failed", 0))]
    return [(m, c, f) for m, (c, f) in sorted(slots.items())]


class ThroughputChart(charts.QChartView):
    """Attributes:
    last_total: jobs finished in the window at the last update.
    """

    def __init__(self, parent: Any = None) -> None:
        chart = charts.QChart()
        super().__init__(chart, parent)
        self.setObjectName("throughputChart")
        self.setRenderHint(gui.QPainter.RenderHint.Antialiasing)
        self.setMinimumHeight(220)
        chart.legend().setAlignment(core.Qt.AlignmentFlag.AlignBottom)
        chart.setMargins(core.QMargins(4, 4, 4, 4))
        self.completed = charts.QLineSeries()
        self.completed.setName("completed / min")
        self.failed = charts.QLineSeries()
        self.failed.setName("failed / min")
        # The completed line fills down to zero, so a busy hour reads as area at a glance.
        self.area = charts.QAreaSeries(self.completed)
        self.area.setName("completed / min")
        chart.addSeries(self.area)
        chart.addSeries(self.failed)
        self.time_axis = charts.QDateTimeAxis()
        self.time_axis.setFormat("HH:mm")
        self.time_axis.setTickCount(7)
        self.count_axis = charts.QValueAxis()
        self.count_axis.setLabelFormat("%d")
        self.count_axis.setMin(0)
        chart.addAxis(self.time_axis, core.Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(self.count_axis, core.Qt.AlignmentFlag.AlignLeft)
        for series in (self.area, self.failed):
            series.attachAxis(self.time_axis)
            series.attachAxis(self.count_axis)
        self.last_total = 0
        self.apply_theme()
        self.set_points([], datetime.now(UTC))

    def apply_theme(self) -> None:
        theme = resources.current()
        chart = self.chart()
        chart.setBackgroundBrush(theme.chart_color("background"))
        chart.setBackgroundRoundness(6)
        text = theme.chart_color("text")
        chart.legend().setLabelColor(text)
        for axis in (self.time_axis, self.count_axis):
            axis.setLabelsColor(text)
            axis.setGridLineColor(theme.chart_color("grid"))
        done = theme.chart_color("completed")
        fill = gui.QColor(done)
        fill.setAlpha(70)
        self.area.setBrush(fill)
        self.area.setPen(gui.QPen(done, 2))
        self.failed.setPen(gui.QPen(theme.chart_color("failed"), 2))

    def set_points(self, points: list[dict[str, Any]], now: datetime) -> None:
        minutes = per_minute(points, now)
        done = [core.QPointF(m.timestamp() * 1000, c) for m, c, _ in minutes]
        failed = [core.QPointF(m.timestamp() * 1000, f) for m, _, f in minutes]
        self.completed.replace(done)
        self.failed.replace(failed)
        self.last_total = sum(c + f for _, c, f in minutes)
        start, end = minutes[0][0], minutes[-1][0]
        self.time_axis.setRange(
            core.QDateTime.fromSecsSinceEpoch(int(start.timestamp())),
            core.QDateTime.fromSecsSinceEpoch(int(end.timestamp())),
        )
        peak = max([c for _, c, _ in minutes] + [f for _, _, f in minutes] + [1])
        self.count_axis.setRange(0, _nice_ceiling(peak))


def _nice_ceiling(value: float) -> float:
    for step in (5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000):
        if value <= step:
            return step
    return value * 1.1
