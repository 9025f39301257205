"""images.save: lossless, atomic writes that read back as they were saved."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inspector_app.core.images import load_image, save_image

RNG = np.random.default_rng(7)
NOISE_RGB = RNG.integers(0, 256, (12, 16, 3), dtype=np.uint8)


def grey_rgb(grey: np.ndarray) -> np.ndarray:
    return np.repeat(np.asarray(grey, np.uint8)[..., None], 3, axis=2)


@pytest.mark.parametrize(
    ("name", "image", "expected"),
    [
        ("noise.png", NOISE_RGB, NOISE_RGB),
        ("grey.png", NOISE_RGB[..., 1], grey_rgb(NOISE_RGB[..., 1])),
        ("noise.tif", NOISE_RGB, NOISE_RGB),
        ("noise.bmp", NOISE_RGB, NOISE_RGB),
        ("mask.png", NOISE_RGB[..., 0] > 128, grey_rgb((NOISE_RGB[..., 0] > 128) * 255)),
    ],
)
def test_save_image_round_trip_is_lossless(tmp_path: Path, name: str, image: np.ndarray, expected: np.ndarray) -> None:
    save_image(tmp_path / name, image)
    np.testing.assert_array_equal(load_image(tmp_path / name), expected)
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left behind


def test_save_image_replaces_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "frame.png"
    save_image(path, np.zeros((4, 4, 3), np.uint8))
    save_image(path, NOISE_RGB)
    np.testing.assert_array_equal(load_image(path), NOISE_RGB)


@pytest.mark.parametrize("name", ["frame.unknownext", "frame"])
def test_save_image_refuses_an_extension_without_a_format(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="extension"):
        save_image(tmp_path / name, NOISE_RGB)
    assert not list(tmp_path.iterdir())
