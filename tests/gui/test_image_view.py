"""The central view shows exactly the overlay ``core.imaging`` computes, through reused 32-bit buffers."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QImage, QPixmap

from inspector_app.core.imaging import overlay_heatmap
from inspector_app.gui.image_view import ImageView
from inspector_app.gui.qimage import FrameCanvas

RNG = np.random.default_rng(7)


def rgb_of(pixmap: QPixmap) -> np.ndarray:
    """A pixmap's pixels as uint8 RGB (through Qt's own conversion, independent of the canvas)."""
    image = pixmap.toImage().convertToFormat(QImage.Format.Format_RGB888)
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    return rows[:, : image.width() * 3].reshape(image.height(), image.width(), 3).copy()


def test_canvas_pixmap_holds_the_picture(qtbot) -> None:  # noqa: ARG001 - needs the QApplication
    picture = RNG.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    np.testing.assert_array_equal(rgb_of(FrameCanvas().show_rgb(picture)), picture)


def test_canvas_keeps_the_previous_pixmap_intact_for_one_more_frame(qtbot) -> None:  # noqa: ARG001
    """The view still shows frame n while frame n+1 is drawn: the two must not share pixels."""
    canvas = FrameCanvas()
    first, second = (RNG.integers(0, 256, (20, 30, 3), dtype=np.uint8) for _ in range(2))
    shown = canvas.show_rgb(first)
    canvas.show_rgb(second)
    np.testing.assert_array_equal(rgb_of(shown), first)


def test_canvas_follows_a_change_of_frame_size(qtbot) -> None:  # noqa: ARG001
    canvas = FrameCanvas()
    canvas.show_rgb(np.zeros((10, 10, 3), np.uint8))
    picture = RNG.integers(0, 256, (16, 9), dtype=np.uint8)  # grey, another size
    np.testing.assert_array_equal(rgb_of(canvas.show_rgb(picture)), np.repeat(picture[..., None], 3, axis=2))


def test_view_shows_the_heatmap_overlay_and_then_a_plain_frame(qtbot) -> None:
    view = ImageView()
    qtbot.addWidget(view)
    picture = RNG.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    heat = RNG.uniform(0.0, 2.0, (12, 16)).astype(np.float32)  # smaller map: resized like the overlay
    view.show_heatmap(picture, heat, 0.6)
    np.testing.assert_array_equal(rgb_of(view._item.pixmap()), overlay_heatmap(picture, heat, 0.6))
    view.show_image(picture)
    np.testing.assert_array_equal(rgb_of(view._item.pixmap()), picture)
    assert view.sceneRect().width() == 64 and view.sceneRect().height() == 48


def test_canvas_shows_nothing_for_an_empty_picture_and_refuses_a_line(qtbot) -> None:  # noqa: ARG001
    canvas = FrameCanvas()
    assert canvas.show_rgb(np.zeros((0, 5, 3), np.uint8)).isNull()
    with pytest.raises(ValueError, match="H×W"):
        canvas.show_rgb(np.zeros(5, np.uint8))
