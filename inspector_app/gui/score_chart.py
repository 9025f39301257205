"""Strip chart of the last few hundred normalised scores, the threshold line at 1.0 and failures in red."""

from __future__ import annotations

from collections import deque

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QWidget


class ScoreChart(pg.PlotWidget):
    def __init__(self, parent: QWidget | None = None, length: int = 300) -> None:
        super().__init__(parent, background="#161b22")
        self._length = length
        self._scores: deque[float] = deque(maxlen=length)
        self._indices: deque[int] = deque(maxlen=length)
        self._count = 0
        self.setMinimumHeight(120)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.setLabel("left", "score ÷ threshold")
        self.setLabel("bottom", "frame")
        self.showGrid(y=True, alpha=0.15)
        self.addItem(pg.InfiniteLine(pos=1.0, angle=0, pen=pg.mkPen("#d29922", width=2, style=pg.QtCore.Qt.PenStyle.DashLine)))
        self._line = self.plot(pen=pg.mkPen("#58a6ff", width=1.5))
        self._fails = self.plot(pen=None, symbol="o", symbolSize=6, symbolBrush="#f85149", symbolPen=None)
        self.setYRange(0, 2.2)

    def add(self, normalised_score: float) -> None:
        self._scores.append(max(float(normalised_score), 0.0))
        self._indices.append(self._count)
        self._count += 1

    def clear_scores(self) -> None:
        self._scores.clear()
        self._indices.clear()

    def refresh(self) -> None:
        """Redraw; called at display rate, not per frame."""
        if not self._scores:
            self._line.setData([], [])
            self._fails.setData([], [])
            return
        x = np.fromiter(self._indices, float)
        y = np.fromiter(self._scores, float)
        self._line.setData(x, y)
        failed = y >= 1.0
        self._fails.setData(x[failed], y[failed])
        self.setYRange(0, max(2.2, float(min(y.max(), 10.0)) * 1.05), padding=0)
        # A window of whole frames, so a few points do not spread over fractional frame numbers.
        self.setXRange(max(0, self._count - self._length), max(self._count, 30), padding=0.02)

    def fail_count(self) -> int:
        return int(sum(1 for s in self._scores if s >= 1.0))
