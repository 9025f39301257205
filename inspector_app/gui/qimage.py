"""The one place numpy images become Qt images (core.images stays Qt-free)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtGui import QImage, QPainter, QPixmap

from inspector_app.core.images import heat_layer_bgra, rgb_to_bgrx, to_rgb_uint8


def to_qimage(rgb: np.ndarray) -> QImage:
    """uint8 RGB H×W×3 → QImage that owns a copy of the pixels (safe after ``rgb`` is freed)."""
    rgb = np.ascontiguousarray(rgb)
    height, width = rgb.shape[:2]
    return QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


def to_pixmap(rgb: np.ndarray) -> QPixmap:
    return QPixmap.fromImage(to_qimage(rgb))


class FrameCanvas:
    """Two 32-bit images, drawn into in turn, for a view that shows a new frame many times a second.

    Showing a frame the simple way (RGB array → copied QImage → QPixmap) makes three new large buffers a frame,
    each paid for in page faults, and converts the pixels once more; here the overlay is written straight
    into a kept ``RGB32`` image, which the pixmap then shares instead of converting. Because it shares,
    the pixmap of one call stays intact only until the call after next: a view must replace it by then,
    as :class:`~inspector_app.gui.inspection.image_view.ImageView` does with every frame it shows. For the same reason
    a buffer keeps one ``cacheKey`` while its pixels change: nothing may cache these pixmaps by key
    (``QPixmapCache``, an item cache mode, an OpenGL viewport).
    """

    def __init__(self) -> None:
        self._images: list[tuple[QImage, np.ndarray]] = []
        self._turn = 0
        self._layer = np.zeros((0, 0, 4), np.uint8)  # the heatmap layer, reused from frame to frame

    def draw(self, height: int, width: int, fill: Callable[[np.ndarray], None]) -> QPixmap:
        """Let ``fill`` write an H×W×4 array of bytes B, G, R, 255, and return it as a pixmap (a null one if empty)."""
        if height <= 0 or width <= 0:
            return QPixmap()
        if not self._images or self._images[0][1].shape[:2] != (height, width):
            self._images = [_bgrx_image(height, width) for _ in range(2)]
        turn = self._turn ^ 1
        image, pixels = self._images[turn]
        fill(pixels)  # if this raises, the turn stays: the buffer shown now is still the one not written next
        self._turn = turn
        return QPixmap.fromImage(image)

    def show_rgb(self, rgb: np.ndarray) -> QPixmap:
        """A picture (anything ``to_rgb_uint8`` accepts) as a pixmap."""
        rgb = to_rgb_uint8(rgb)  # checks the shape; no copy when it is uint8 RGB already
        return self.draw(*rgb.shape[:2], lambda out: rgb_to_bgrx(rgb, out))

    def show_heatmap(self, rgb: np.ndarray, norm_map: np.ndarray, opacity: float) -> QPixmap:
        """A picture with its heatmap laid over it, as ``core.images.overlay_heatmap`` draws it (within 1, below).

        The heatmap is made as a premultiplied layer (``heat_layer_bgra``) and Qt's raster painter blends it
        over the picture. Qt divides by 255 a little faster than exactly: for 24 of the 65536 pairs of layer
        opacity and picture value a channel comes out 1 below ``overlay_heatmap``'s (never above), so on a
        flat region a whole patch may be, invisibly. It does so faster than OpenCV's per-pixel blend.
        """
        rgb = to_rgb_uint8(rgb)
        height, width = rgb.shape[:2]
        if height == 0 or width == 0:
            heat_layer_bgra(norm_map, opacity, np.zeros((0, 0, 4), np.uint8))  # still refuses a bad map
            return QPixmap()
        if self._layer.shape[:2] != (height, width):
            self._layer = np.empty((height, width, 4), np.uint8)
        regions = heat_layer_bgra(norm_map, opacity, self._layer)  # a bad map raises here, before any drawing

        def fill(out: np.ndarray) -> None:
            rgb_to_bgrx(rgb, out)
            if regions:
                _lay_over(out, self._layer, regions)

        return self.draw(height, width, fill)


def _lay_over(picture: np.ndarray, layer: np.ndarray, regions: list[tuple[int, int, int, int]]) -> None:
    """Blend the premultiplied ``layer`` over the B, G, R, 255 ``picture`` in place, in the given regions.

    Both are wrapped, not copied: a QImage made on memory it does not own is not shared with anything, so
    the painter writes straight into ``picture``.
    """
    if not picture.flags.writeable:  # Qt would paint into it regardless
        msg = "the picture to blend into must be writable"
        raise ValueError(msg)
    height, width = picture.shape[:2]
    target = QImage(picture.data, width, height, picture.strides[0], QImage.Format.Format_RGB32)
    source = QImage(layer.data, width, height, layer.strides[0], QImage.Format.Format_ARGB32_Premultiplied)
    painter = QPainter(target)
    try:
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceOver)
        for x, y, w, h in regions:
            painter.drawImage(x, y, source, x, y, w, h)
    finally:
        painter.end()


def _bgrx_image(height: int, width: int) -> tuple[QImage, np.ndarray]:
    """An ``RGB32`` QImage with a numpy view of its pixels (taken once, so Qt never detaches them from it).

    ``RGB32`` is the 32-bit word ``0xffRRGGBB``; on the little-endian machines PySide6 ships for (x86-64,
    arm64) its bytes run B, G, R, 255.
    """
    image = QImage(width, height, QImage.Format.Format_RGB32)
    pixels = np.frombuffer(image.bits(), np.uint8).reshape(height, image.bytesPerLine())
    return image, pixels[:, : width * 4].reshape(height, width, 4)
