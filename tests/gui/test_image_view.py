"""The central view shows exactly the overlay ``core.images`` computes, through reused 32-bit buffers."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QImage, QPixmap, QWheelEvent

from inspector_app.core.images import overlay_heatmap, resize, resize_map
from inspector_app.gui.inspection.image_view import ImageView
from inspector_app.gui.qimage import FrameCanvas

RNG = np.random.default_rng(7)


def rgb_of(pixmap: QPixmap) -> np.ndarray:
    """A pixmap's pixels as uint8 RGB (through Qt's own conversion, independent of the canvas)."""
    image = pixmap.toImage().convertToFormat(QImage.Format.Format_RGB888)
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    return rows[:, : image.width() * 3].reshape(image.height(), image.width(), 3).copy()


def assert_overlay_shown(pixmap: QPixmap, expected: np.ndarray) -> None:
    """The view lays the heatmap over the frame with Qt's painter, whose fast division by 255 rounds a few
    products that lie just above a half down (190.505 to 190): for 24 of the 65536 pairs of opacity and
    picture value a channel is 1 below ``overlay_heatmap``'s. On the random pictures of these tests that is
    rare; anything more, or above, or often, is a wrong colour or opacity."""
    difference = rgb_of(pixmap).astype(int) - expected
    assert difference.min() >= -1 and difference.max() <= 0
    assert np.count_nonzero(difference) <= max(2, difference.size // 1000)


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
    assert_overlay_shown(view._item.pixmap(), overlay_heatmap(picture, heat, 0.6))
    view.show_image(picture)
    np.testing.assert_array_equal(rgb_of(view._item.pixmap()), picture)
    assert view.sceneRect().width() == 64 and view.sceneRect().height() == 48


def test_canvas_lays_the_heatmap_only_where_it_is_hot_and_keeps_the_last_frame(qtbot) -> None:  # noqa: ARG001
    """Quiet strips and columns are not blended (the layer there may hold an older frame's heat), and the
    layer the canvas reuses must not leak into the frame shown before."""
    canvas = FrameCanvas()
    picture = RNG.integers(0, 256, (300, 90, 3), dtype=np.uint8)
    everywhere = RNG.uniform(0.0, 2.0, (300, 90)).astype(np.float32)
    first = canvas.show_heatmap(picture, everywhere, 0.7)
    spot = np.zeros((300, 90), np.float32)
    spot[200:210, 40:50] = 1.8
    second = canvas.show_heatmap(picture, spot, 0.7)
    assert_overlay_shown(second, overlay_heatmap(picture, spot, 0.7))
    assert_overlay_shown(first, overlay_heatmap(picture, everywhere, 0.7))
    np.testing.assert_array_equal(rgb_of(canvas.show_heatmap(picture, spot, 0.0)), picture)


def test_canvas_shows_nothing_for_an_empty_picture_and_refuses_a_line(qtbot) -> None:  # noqa: ARG001
    canvas = FrameCanvas()
    assert canvas.show_rgb(np.zeros((0, 5, 3), np.uint8)).isNull()
    assert canvas.show_heatmap(np.zeros((0, 5, 3), np.uint8), np.ones((4, 4), np.float32), 0.5).isNull()
    with pytest.raises(ValueError, match="H×W"):
        canvas.show_rgb(np.zeros(5, np.uint8))


@pytest.fixture
def small_view(qtbot) -> ImageView:
    """A shown view far smaller than a 400×320 frame (about 0.4 of it)."""
    view = ImageView()
    qtbot.addWidget(view)
    view.resize(170, 140)
    view.show()
    qtbot.waitExposed(view)
    return view


def wheel_up(view: ImageView) -> None:
    centre = QPointF(view.viewport().width() / 2, view.viewport().height() / 2)
    view.wheelEvent(QWheelEvent(centre, view.viewport().mapToGlobal(centre), QPoint(0, 0), QPoint(0, 120),
                                Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                                Qt.ScrollPhase.NoScrollPhase, False))


def test_a_fitted_frame_is_drawn_in_screen_pixels_and_in_full_once_zoomed(small_view: ImageView) -> None:
    view = small_view
    picture = RNG.integers(0, 256, (320, 400, 3), dtype=np.uint8)
    heat = RNG.uniform(0.0, 2.0, (40, 50)).astype(np.float32)
    view.show_heatmap(picture, heat, 0.6)
    room = view.viewport().size() * view.devicePixelRatioF()
    scale = min(room.width() / 400, room.height() / 320)  # about 0.4 in a 170×140 view
    k = int(1 / scale)
    assert k >= 2
    height, width = view.drawn_size
    assert (height, width) == (320 // k, 400 // k)
    assert width >= int(400 * scale) and height >= int(320 * scale)  # at least one pixel per screen pixel
    assert view.sceneRect() == QRectF(0, 0, 400, 320)  # scene coordinates stay the frame's pixels
    shrunk = resize(picture[: height * k, : width * k], (width, height), "area")
    expected = overlay_heatmap(shrunk, resize_map(heat, height, width), 0.6)
    assert_overlay_shown(view._item.pixmap(), expected)

    wheel_up(view)
    assert view.drawn_size == (320, 400)
    assert_overlay_shown(view._item.pixmap(), overlay_heatmap(picture, heat, 0.6))
    view.show_image(picture)  # the next frame, still zoomed: full size
    assert view.drawn_size == (320, 400)

    view.fit()
    assert view.drawn_size == (height, width)


def test_contours_are_drawn_on_the_fitted_frame(small_view: ImageView) -> None:
    view = small_view
    heat = np.zeros((320, 400), np.float32)
    heat[100:200, 150:260] = 2.0
    view.show_contours(np.full((320, 400, 3), 90, np.uint8), heat)
    shown = rgb_of(view._item.pixmap())
    assert shown.shape[:2] == view.drawn_size and view.drawn_size[1] < 400
    red = (shown[..., 0] > 200) & (shown[..., 1] < 80)
    assert red.any() and not red[: shown.shape[0] // 5].any()  # an outline around the region only


def test_a_failed_draw_does_not_cost_the_shown_pixmap_its_buffer(qtbot) -> None:  # noqa: ARG001
    canvas = FrameCanvas()
    first, second = (RNG.integers(0, 256, (20, 30, 3), dtype=np.uint8) for _ in range(2))
    shown = canvas.show_rgb(first)

    def broken(out: np.ndarray) -> None:
        out[:] = 0
        raise ValueError("bad map")

    with pytest.raises(ValueError, match="bad map"):
        canvas.draw(20, 30, broken)
    canvas.show_rgb(second)
    np.testing.assert_array_equal(rgb_of(shown), first)


def test_a_thin_failing_region_keeps_its_outline_and_colour_when_fitted(small_view: ImageView) -> None:
    """Drawn at a fraction of the frame, a 1-px line above the threshold must still be outlined and warm."""
    frame = np.full((320, 400, 3), 90, np.uint8)
    heat = np.zeros((320, 400), np.float32)
    heat[100:200, 201] = 1.5  # odd column: straddles the k×k blocks
    small_view.show_contours(frame, heat)
    assert small_view.drawn_size[1] < 400
    shown = rgb_of(small_view._item.pixmap())
    assert ((shown[..., 0] > 200) & (shown[..., 1] < 80)).any(), "the outline vanished"
    small_view.show_heatmap(frame, heat, 1.0)
    shown = rgb_of(small_view._item.pixmap()).astype(int)
    assert ((shown[..., 0] > 200) & (shown[..., 2] < 60)).any(), "the line is no longer drawn above the threshold"


@pytest.mark.parametrize("opacity", [0.0, -1.0, float("nan"), 0.5])
def test_a_bad_map_is_refused_whatever_the_opacity(qtbot, opacity: float) -> None:  # noqa: ARG001
    canvas = FrameCanvas()
    for bad in (np.zeros((48, 64, 3), np.float32), np.zeros((0, 64), np.float32)):
        with pytest.raises(ValueError, match="2-D"):
            canvas.show_heatmap(np.zeros((48, 64, 3), np.uint8), bad, opacity)
        with pytest.raises(ValueError, match="2-D"):
            canvas.show_heatmap(np.zeros((0, 64, 3), np.uint8), bad, opacity)


def test_a_map_the_overlay_refuses_leaves_the_view_as_it_was(small_view: ImageView) -> None:
    picture = RNG.integers(0, 256, (320, 400, 3), dtype=np.uint8)
    small_view.show_image(picture)
    before = rgb_of(small_view._item.pixmap())
    with pytest.raises(ValueError, match="2-D"):
        small_view.show_heatmap(np.zeros((48, 64, 3), np.uint8), np.zeros((48, 64, 3), np.float32), 0.5)
    assert small_view.sceneRect() == QRectF(0, 0, 400, 320)
    np.testing.assert_array_equal(rgb_of(small_view._item.pixmap()), before)
    small_view.resize(200, 160)  # redraws what is shown: must not raise again
    small_view.zoom(1.25)
    small_view.fit()
    assert small_view.sceneRect() == QRectF(0, 0, 400, 320)
    small_view.zoom(1.25)
    np.testing.assert_array_equal(rgb_of(small_view._item.pixmap()), picture)
