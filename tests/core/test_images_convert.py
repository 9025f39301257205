"""images.convert: any in-memory array becomes uint8 RGB, or the error names what it got."""

from __future__ import annotations

import numpy as np
import pytest

from inspector_app.core.images import to_rgb_uint8


@pytest.mark.parametrize(
    ("array", "expected_first_row"),
    [
        (np.array([[0, 128, 255]], np.uint8), [[0, 0, 0], [128, 128, 128], [255, 255, 255]]),
        (np.array([[[7], [9]]], np.uint8), [[7, 7, 7], [9, 9, 9]]),
        (np.array([[[1, 2, 3], [4, 5, 6]]], np.uint8), [[1, 2, 3], [4, 5, 6]]),
        (
            np.array([[[200, 100, 50, 255], [200, 100, 50, 0], [200, 100, 50, 51]]], np.uint8),
            [[200, 100, 50], [0, 0, 0], [40, 20, 10]],
        ),
        (np.array([[0, 32768, 65535]], np.uint16), [[0, 0, 0], [128, 128, 128], [255, 255, 255]]),
        (
            np.array([[0.0, 0.5, 1.0, 1.5, -0.2, np.nan]], np.float32),
            [[0] * 3, [128] * 3, [255] * 3, [255] * 3, [0] * 3, [0] * 3],
        ),
        (np.array([[[0.0, 0.5, 1.0]]], np.float64), [[0, 128, 255]]),
        (np.array([[False, True]]), [[0, 0, 0], [255, 255, 255]]),
        (np.array([[0, 200]], np.int64), [[0, 0, 0], [200, 200, 200]]),
    ],
    ids=["grey", "HxWx1", "rgb", "rgba", "uint16", "float32", "float64", "bool", "int64 in 0..255"],
)
def test_to_rgb_uint8_table(array: np.ndarray, expected_first_row: list) -> None:
    rgb = to_rgb_uint8(array)
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
    assert rgb.flags.c_contiguous
    assert rgb[0].tolist() == expected_first_row


def test_to_rgb_uint8_passes_rgb_through_without_copying() -> None:
    rgb = np.zeros((4, 5, 3), np.uint8)
    assert to_rgb_uint8(rgb) is rgb


@pytest.mark.parametrize(
    ("array", "named"),
    [
        (np.zeros((1, 2, 3, 3), np.uint8), "(1, 2, 3, 3)"),
        (np.zeros((2, 2, 2), np.uint8), "(2, 2, 2)"),
        (np.zeros(5, np.uint8), "(5,)"),
        (np.array([[0, 300]], np.int32), "0..300"),
        (np.zeros((2, 2), np.complex64), "complex64"),
    ],
    ids=["4-D", "two channels", "1-D", "int out of range", "complex"],
)
def test_to_rgb_uint8_rejects_what_it_cannot_read(array: np.ndarray, named: str) -> None:
    with pytest.raises(ValueError, match=r"got|cannot|must") as caught:
        to_rgb_uint8(array)
    assert named in str(caught.value)
