"""Central image view: the frame with its overlay, zoom with the wheel, pan by dragging, fit on double-click."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPainter, QPixmap, QWheelEvent
from PySide6.QtWidgets import QGraphicsPixmapItem, QGraphicsScene, QGraphicsView, QWidget

from inspector_app.core.imaging import overlay_heatmap_bgrx
from inspector_app.gui.qimage import FrameCanvas


class ImageView(QGraphicsView):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self._item = QGraphicsPixmapItem()
        self._item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.scene().addItem(self._item)
        self.setBackgroundBrush(QColor(24, 24, 24))
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self._fit = True
        self._shape: tuple[int, int] | None = None
        self._canvas = FrameCanvas()

    def show_image(self, rgb: np.ndarray) -> None:
        """Show a picture (anything ``to_rgb_uint8`` accepts) as it is."""
        self._show(self._canvas.show_rgb(rgb), np.shape(rgb)[:2])

    def show_heatmap(self, rgb: np.ndarray, norm_map: np.ndarray, opacity: float) -> None:
        """Show a picture with its anomaly heatmap blended in (``core.imaging.overlay_heatmap``)."""
        height, width = np.shape(rgb)[:2]
        pixmap = self._canvas.draw(height, width, lambda out: overlay_heatmap_bgrx(rgb, norm_map, opacity, out))
        self._show(pixmap, (height, width))

    def _show(self, pixmap: QPixmap, shape: tuple[int, int]) -> None:
        self._item.setPixmap(pixmap)  # replaces the canvas's previous pixmap, as FrameCanvas requires
        if shape != self._shape:
            self._shape = shape
            self.scene().setSceneRect(self._item.boundingRect())
            if self._fit:
                self.fit()

    def fit(self) -> None:
        self._fit = True
        self.fitInView(self._item, Qt.AspectRatioMode.KeepAspectRatio)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt API
        factor = 1.25 if event.angleDelta().y() > 0 else 0.8
        self._fit = False
        self.scale(factor, factor)

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802, ANN001 - Qt API
        self.fit()
        super().mouseDoubleClickEvent(event)

    def resizeEvent(self, event) -> None:  # noqa: N802, ANN001 - Qt API
        super().resizeEvent(event)
        if self._fit:
            self.fit()
