"""Strip chart of the last few hundred scores ÷ threshold, the threshold line at 1.0 and failures in red.

The x axis counts frames back from the newest (0 = the latest frame, −300 = three hundred frames ago), so
the axes keep their ticks while the line scrolls, and the y range changes only when a score needs more
room, in steps: pyqtgraph rebuilds an axis picture, text included, whenever its range changes. There is
no background grid: pyqtgraph draws it as part of the axis picture, and replaying a translucent grid over
the whole plot on every repaint was more than half of the GUI thread's time at 40 frames per second
(measured with py-spy); the threshold line is the reference an operator needs. A score above the axis's
top (MAX_Y_TOP) is drawn at the top edge as an upward triangle, so no failure is ever off the chart.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

#: Lowest top of the y axis: room for the threshold (1.0) and for failures up to twice it.
MIN_Y_TOP = 2.2
#: Highest top of the y axis: a wild score is drawn clipped rather than squashing every other point.
MAX_Y_TOP = 10.0
#: The y axis grows in steps of this much, so it is not re-laid out for every new maximum.
Y_STEP = 1.0


def y_top_for(highest_score: float) -> float:
    """Top of the y axis for scores up to ``highest_score``: at least MIN_Y_TOP, in Y_STEP steps."""
    wanted = highest_score * 1.05
    if wanted <= MIN_Y_TOP:
        return MIN_Y_TOP
    return min(MAX_Y_TOP, math.ceil(wanted / Y_STEP) * Y_STEP)


class ScoreChart(pg.PlotWidget):
    def __init__(self, parent: QWidget | None = None, length: int = 300) -> None:
        super().__init__(parent, background="#161b22")
        self._length = length
        self._scores: deque[float] = deque(maxlen=length)
        self.setMinimumHeight(72)  # the window must still fit 1280×720 at 200 % scaling
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.setLabel("left", "× threshold")  # score ÷ threshold (gui.score_scale)
        self.setLabel("bottom", "frames ago")
        self.addItem(pg.InfiniteLine(pos=1.0, angle=0, pen=pg.mkPen("#d29922", width=2, style=pg.QtCore.Qt.PenStyle.DashLine)))
        self._line = self.plot(pen=pg.mkPen("#58a6ff", width=1.5))
        self._fails = self.plot(pen=None, symbol="o", symbolSize=6, symbolBrush="#f85149", symbolPen=None)
        self._above = self.plot(pen=None, symbol="t1", symbolSize=10, symbolBrush="#f85149", symbolPen="#ffffff")
        self.setXRange(-(length - 1), 0, padding=0.02)
        self._y_top = MIN_Y_TOP
        self.setYRange(0, self._y_top, padding=0)

    @property
    def y_top(self) -> float:
        return self._y_top

    def add(self, ratio: float) -> None:
        """One more score ÷ threshold (``gui.score_scale``)."""
        self._scores.append(max(float(ratio), 0.0))

    def clear_scores(self) -> None:
        self._scores.clear()

    def refresh(self) -> None:
        """Redraw; called at display rate, not per frame."""
        if not self._scores:
            self._line.setData([], [])
            self._fails.setData([], [])
            self._above.setData([], [])
            return
        y = np.fromiter(self._scores, float)
        x = np.arange(1 - len(y), 1, dtype=float)
        top = y_top_for(float(y.max()))
        if top != self._y_top:
            self._y_top = top
            self.setYRange(0, top, padding=0)
        edge = top * 0.97  # just inside the top, where the triangle's tip still shows
        above = y > top
        shown = np.where(above, edge, y)
        self._line.setData(x, shown)
        failed = (y >= 1.0) & ~above
        self._fails.setData(x[failed], y[failed])
        self._above.setData(x[above], shown[above])

    def fail_count(self) -> int:
        return int(sum(1 for s in self._scores if s >= 1.0))
