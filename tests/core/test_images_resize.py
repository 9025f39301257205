"""images.resizing: pictures, masks and maps at another size, keeping dtype, channels and hot spots."""

from __future__ import annotations

import numpy as np
import pytest

from inspector_app.core.images import resize, resize_map, shrink_map_by_max, thumbnail


@pytest.mark.parametrize(
    ("image", "size", "interpolation", "shape"),
    [
        (np.zeros((64, 48, 3), np.uint8), 32, "area", (32, 32, 3)),
        (np.zeros((64, 48, 3), np.uint8), (40, 20), "linear", (20, 40, 3)),
        (np.zeros((10, 10, 3), np.uint8), (30, 25), "area", (25, 30, 3)),
        (np.zeros((64, 48), np.float32), (12, 16), "area", (16, 12)),
        (np.zeros((8, 8, 1), np.uint8), 4, "nearest", (4, 4, 1)),
        (np.zeros((8, 8, 4), np.uint8), 16, "cubic", (16, 16, 4)),
        (np.zeros((8, 8), bool), (5, 3), "nearest", (3, 5)),
    ],
)
def test_resize_keeps_dtype_and_channels(image: np.ndarray, size: object, interpolation: str, shape: tuple) -> None:
    out = resize(image, size, interpolation)
    assert out.shape == shape and out.dtype == image.dtype


def test_resize_area_averages_when_shrinking() -> None:
    stripes = np.zeros((4, 4, 3), np.uint8)
    stripes[:, ::2] = 200
    assert resize(stripes, (2, 2)).tolist() == np.full((2, 2, 3), 100).tolist()


def test_resize_rejects_unknown_interpolation() -> None:
    with pytest.raises(ValueError, match="'bicubic'"):
        resize(np.zeros((4, 4, 3), np.uint8), 2, "bicubic")


@pytest.mark.parametrize(("source", "height", "width"), [((8, 8), 32, 24), ((64, 80), 16, 20), ((10, 10), 10, 10)])
def test_resize_map_gives_float32_at_height_by_width(source: tuple[int, int], height: int, width: int) -> None:
    out = resize_map(np.full(source, 0.75, np.float64), height, width)
    assert out.shape == (height, width) and out.dtype == np.float32
    np.testing.assert_allclose(out, 0.75, rtol=1e-6)


def test_resize_map_keeps_a_small_hot_spot_when_shrinking() -> None:
    m = np.zeros((100, 100), np.float32)
    m[50, 50] = 1.0
    assert resize_map(m, 10, 10).max() > 0


@pytest.mark.parametrize(
    ("shape", "max_side", "expected"),
    [((100, 300, 3), 160, (53, 160, 3)), ((300, 100, 3), 60, (60, 20, 3)), ((40, 50, 3), 160, (40, 50, 3))],
)
def test_thumbnail_keeps_aspect_and_never_enlarges(shape: tuple, max_side: int, expected: tuple) -> None:
    assert thumbnail(np.zeros(shape, np.uint8), max_side).shape == expected


def test_shrink_map_by_max_keeps_each_blocks_peak() -> None:
    m = np.zeros((7, 9), np.float32)
    m[1, 4] = 1.5  # one hot pixel inside block (0, 2) for k = 2
    m[3, 1] = np.nan  # ignored, not spread over its block
    m[6, :] = 9.0  # the last, partial row of blocks is dropped
    out = shrink_map_by_max(m, 2)
    assert out.shape == (3, 4)
    assert out[0, 2] == 1.5 and out[1, 0] == 0.0 and out.max() == 1.5
    mask = np.zeros((6, 6), bool)
    mask[5, 5] = True
    assert shrink_map_by_max(mask, 3).tolist() == [[False, False], [False, True]]
    np.testing.assert_array_equal(shrink_map_by_max(m, 1), m)
    with pytest.raises(ValueError, match="at least 8×8"):
        shrink_map_by_max(m, 8)
