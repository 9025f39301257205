"""Histogram of validation scores with a threshold line the user drags: good in green, defects in red.

The line only reports where it is; the calibration page decides what to store. Bins are shared by both
classes so their overlap (where the threshold trades false alarms for misses) is visible at a glance.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QWidget

GOOD_BRUSH = (63, 185, 80, 170)
DEFECT_BRUSH = (248, 81, 73, 170)
LINE_COLOUR = "#d29922"


def shared_bins(good: np.ndarray, defect: np.ndarray, threshold: float, count: int | None = None) -> np.ndarray:
    """Bin edges covering both classes and the threshold, with a little room either side.

    Without ``count``, about two bins per square root of the image count (8 to 40), so a few dozen
    validation images still make visible bars.
    """
    values = np.r_[good, defect, threshold].astype(np.float64)
    values = values[np.isfinite(values)] if np.isfinite(values).any() else np.zeros(1)
    if count is None:
        count = int(np.clip(round(2 * math.sqrt(len(good) + len(defect))), 8, 40))
    low, high = float(values.min()), float(values.max())
    span = max(high - low, abs(high) * 1e-3, 1e-9)
    return np.linspace(low - 0.05 * span, high + 0.05 * span, count + 1)


class ScoreHistogram(pg.PlotWidget):
    """``set_scores`` draws the bars; dragging the line emits ``threshold_changed(float)``."""

    threshold_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, background="#161b22")
        self.setMinimumSize(420, 260)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.setLabel("bottom", "anomaly score")
        self.setLabel("left", "images")
        self.showGrid(y=True, alpha=0.15)
        self.legend = self.addLegend(offset=(-10, 10))
        self._good = pg.BarGraphItem(x=[], height=[], width=1, brush=GOOD_BRUSH, pen=None, name="good")
        self._defect = pg.BarGraphItem(x=[], height=[], width=1, brush=DEFECT_BRUSH, pen=None, name="defect")
        self.addItem(self._good)
        self.addItem(self._defect)
        self.line = pg.InfiniteLine(pos=0.0, angle=90, movable=True,
                                    pen=pg.mkPen(LINE_COLOUR, width=3), hoverPen=pg.mkPen("#f0c050", width=4),
                                    label="threshold", labelOpts={"position": 0.92, "color": LINE_COLOUR})
        self.line.setCursor(Qt.CursorShape.SizeHorCursor)
        self.addItem(self.line)
        self.line.sigPositionChanged.connect(lambda line: self.threshold_changed.emit(float(line.value())))
        self.line.sigPositionChanged.connect(lambda line: self._place_legend(float(line.value())))

    def set_scores(self, good: np.ndarray, defect: np.ndarray, threshold: float) -> None:
        """Draw both classes on shared bins and put the line at ``threshold``."""
        good, defect = (np.asarray(v, np.float64) for v in (good, defect))
        good, defect = good[np.isfinite(good)], defect[np.isfinite(defect)]  # a failed score has no bar
        edges = shared_bins(good, defect, threshold)
        centres = (edges[:-1] + edges[1:]) / 2
        width = float(edges[1] - edges[0])
        good_counts, _ = np.histogram(good, edges)
        defect_counts, _ = np.histogram(defect, edges)
        if len(defect):  # side by side in each bin, so neither class hides the other
            self._good.setOpts(x=centres - width / 4, height=good_counts, width=width * 0.45)
            self._defect.setOpts(x=centres + width / 4, height=defect_counts, width=width * 0.45)
        else:
            self._good.setOpts(x=centres, height=good_counts, width=width * 0.9)
            self._defect.setOpts(x=[], height=[], width=width)
        if not len(defect):
            self.legend.removeItem(self._defect)
        span = float(edges[-1] - edges[0])
        self.line.setBounds((float(edges[0]) - span, float(edges[-1]) + span))
        self.setXRange(float(edges[0]), float(edges[-1]), padding=0)
        tallest = max(int(good_counts.max(initial=0)), int(defect_counts.max(initial=0)), 1)
        step = max(1, math.ceil(tallest / 6))
        self.getAxis("left").setTickSpacing(step, step)  # whole images, never "1.5"
        self.setYRange(0, tallest * 1.15, padding=0)
        self.set_threshold(threshold)

    def set_threshold(self, value: float) -> None:
        """Move the line without emitting ``threshold_changed``; widen the view when it would leave it."""
        self.line.blockSignals(True)
        self.line.setValue(float(value))
        self.line.blockSignals(False)
        (low, high), _ = self.viewRange()
        if not low <= value <= high:
            margin = 0.05 * (high - low)
            self.setXRange(min(low, value - margin), max(high, value + margin), padding=0)
        self._place_legend(value)

    def _place_legend(self, value: float) -> None:
        """Keep the legend off the threshold's label: top right, or top left when the line is on the right."""
        (low, high), _ = self.viewRange()
        on_right = high > low and (value - low) / (high - low) > 0.55
        if on_right:
            self.legend.anchor(itemPos=(0, 0), parentPos=(0, 0), offset=(10, 10))
        else:
            self.legend.anchor(itemPos=(1, 0), parentPos=(1, 0), offset=(-10, 10))

    def threshold(self) -> float:
        return float(self.line.value())
