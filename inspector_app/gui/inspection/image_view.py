"""Central image view: the frame with its overlay, zoom with the wheel, pan by dragging, fit on double-click.

While the whole frame is fitted to the view (as the window opens), the frame and its map are first shrunk
by the largest whole factor that still leaves at least one pixel per screen pixel: a 1280×1024 camera frame
in a 1060×490 view is drawn from a quarter of its pixels, and Qt smooth-scales a pixmap of nearly screen
size instead of a full one on every repaint. Zoomed in, the overlay is drawn at full resolution. Scene
coordinates are always the frame's own pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPixmap, QTransform, QWheelEvent
from PySide6.QtWidgets import QGraphicsPixmapItem, QGraphicsScene, QGraphicsView, QWidget

from inspector_app.core.images import (
    draw_mask_contours,
    resize,
    resize_map,
    shrink_map_by_max,
    to_rgb_uint8,
)
from inspector_app.gui.qimage import FrameCanvas


@dataclass(frozen=True)
class _Shown:
    """What the view shows, kept so it can be drawn again at another scale (a zoom, a resize).

    The arrays are the caller's, not copies: a caller must not write into a frame after showing it (the
    sources and the worker make a new array for every frame).
    """

    rgb: np.ndarray
    norm_map: np.ndarray | None = None
    overlay: str = "none"  # "none", "heatmap" or "contours"
    opacity: float = 0.0
    level: float = 1.0


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
        self._shown: _Shown | None = None
        self._canvas = FrameCanvas()

    # -- what to show ---------------------------------------------------------------------------------------
    def show_image(self, rgb: np.ndarray) -> None:
        """Show a picture (anything ``to_rgb_uint8`` accepts) as it is."""
        self._show(_Shown(to_rgb_uint8(rgb)))

    def show_heatmap(self, rgb: np.ndarray, norm_map: np.ndarray, opacity: float) -> None:
        """Show a picture with its anomaly heatmap blended in (``core.images.overlay_heatmap``)."""
        self._show(_Shown(to_rgb_uint8(rgb), np.asarray(norm_map), "heatmap", opacity))

    def show_contours(self, rgb: np.ndarray, norm_map: np.ndarray, level: float = 1.0) -> None:
        """Show a picture with the outline of its map's regions at or above ``level``, drawn in screen pixels."""
        self._show(_Shown(to_rgb_uint8(rgb), np.asarray(norm_map), "contours", level=level))

    def clear(self) -> None:
        """Show nothing: a lost or new source must not leave the previous source's frame looking current."""
        self._shown = None
        self._shape = None
        self._item.setPixmap(QPixmap())

    @property
    def drawn_size(self) -> tuple[int, int]:
        """(height, width) of the pixmap now shown: the frame's size zoomed in, fewer pixels when fitted."""
        pixmap = self._item.pixmap()
        return pixmap.height(), pixmap.width()

    # -- drawing --------------------------------------------------------------------------------------------
    def _show(self, shown: _Shown) -> None:
        pixmap, k = self._render(shown)  # may raise (a bad map): then nothing about the view has changed
        self._shown = shown
        self._put(pixmap, k)
        shape = shown.rgb.shape[:2]
        if shape != self._shape:
            self._shape = shape
            self.scene().setSceneRect(QRectF(0, 0, shape[1], shape[0]))
            if self._fit:
                self.fitInView(self.sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)

    def _draw(self) -> None:
        """Draw what is shown again, at the scale the view has now."""
        if self._shown is not None:
            self._put(*self._render(self._shown))

    def _put(self, pixmap: QPixmap, k: int) -> None:
        self._item.setPixmap(pixmap)  # replaces the canvas's previous pixmap, as FrameCanvas requires
        self._item.setTransform(QTransform.fromScale(k, k))

    def _render(self, shown: _Shown) -> tuple[QPixmap, int]:
        """The pixmap of ``shown`` and the whole factor it was shrunk by (1: full resolution)."""
        height, width = shown.rgb.shape[:2]
        k = self._shrink_factor(height, width)
        rgb, norm_map = shown.rgb, shown.norm_map
        if k > 1:  # whole k×k blocks only: OpenCV averages those fast (an odd ratio costs ~20× more)
            rgb = resize(rgb[: height // k * k, : width // k * k], (width // k, height // k), "area")
            if norm_map is not None:
                norm_map = self._map_for(norm_map, height, width, k)
        if shown.overlay == "heatmap" and norm_map is not None:
            pixmap = self._canvas.show_heatmap(rgb, norm_map, shown.opacity)
        elif shown.overlay == "contours" and norm_map is not None:
            pixmap = self._canvas.show_rgb(draw_mask_contours(rgb, norm_map, level=shown.level))
        else:
            pixmap = self._canvas.show_rgb(rgb)
        return pixmap, k

    @staticmethod
    def _map_for(norm_map: np.ndarray, height: int, width: int, k: int) -> np.ndarray:
        """The map at the shrunk frame's size, each block its largest value: a hot spot never fades or loses
        its outline by being drawn smaller. A map coarser than that is just resized (nothing to lose)."""
        drawn_h, drawn_w = height // k, width // k
        if norm_map.shape[0] <= drawn_h and norm_map.shape[1] <= drawn_w:
            return resize_map(norm_map, drawn_h, drawn_w)
        if norm_map.shape[:2] != (height, width):
            norm_map = resize_map(norm_map, height, width)
        return shrink_map_by_max(norm_map, k)

    def _shrink_factor(self, height: int, width: int) -> int:
        """1 when zoomed; fitted, the largest whole factor that leaves at least the screen pixels the frame covers."""
        if not self._fit or height == 0 or width == 0:
            return 1
        ratio = self.devicePixelRatioF()
        room_w, room_h = max(self.viewport().width() * ratio, 1.0), max(self.viewport().height() * ratio, 1.0)
        scale = min(room_w / width, room_h / height)
        return 1 if scale >= 0.5 else max(1, min(int(1.0 / scale), height, width))

    # -- zoom -----------------------------------------------------------------------------------------------
    def fit(self) -> None:
        was_fitted = self._fit
        self._fit = True
        self.fitInView(self.sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)
        if self._shown is not None and (not was_fitted or self._item.transform().m11() != self._shrink_factor(
                *self._shown.rgb.shape[:2])):
            self._draw()

    def zoom(self, factor: float) -> None:
        """Scale the view by ``factor``; the frame is drawn at full resolution from now until the next fit."""
        was_fitted = self._fit
        self._fit = False
        self.scale(factor, factor)
        if was_fitted:
            self._draw()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt API
        self.zoom(1.25 if event.angleDelta().y() > 0 else 0.8)

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802, ANN001 - Qt API
        self.fit()
        super().mouseDoubleClickEvent(event)

    def resizeEvent(self, event) -> None:  # noqa: N802, ANN001 - Qt API
        super().resizeEvent(event)
        if self._fit:
            self.fit()
