"""The heatmap's colour key under the live view: what a colour means, on the one fixed scale every frame uses.

The strip is drawn by ``core.images.heatmap_rgb`` itself, so the key cannot drift from the overlay. The map
scale is the anomaly map's own (1 = the threshold); it is not the score ratio the banner shows.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from inspector_app.core.images import HEATMAP_VMAX, heatmap_rgb
from inspector_app.gui.qimage import to_qimage

STRIP_WIDTH = 120
STRIP_HEIGHT = 12


class HeatmapLegend(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        values = np.linspace(0.0, HEATMAP_VMAX, STRIP_WIDTH, dtype=np.float32)
        strip = heatmap_rgb(np.repeat(values[None, :], STRIP_HEIGHT, axis=0))
        strip[:, np.searchsorted(values, 1.0)] = 255  # a white tick at the threshold
        self.strip = QLabel()
        self.strip.setPixmap(QPixmap.fromImage(to_qimage(strip)))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(QLabel("heatmap 0"))
        layout.addWidget(self.strip)
        layout.addWidget(QLabel(f"{HEATMAP_VMAX:g}×"))
        self.setToolTip("Heatmap colours on one fixed scale for every frame, in multiples of the threshold: "
                        "0 (dark blue) is a typical good pixel, the white tick and the jump to yellow mark the "
                        "threshold (1×), red is twice it or more.")
