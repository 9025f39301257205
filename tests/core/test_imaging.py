"""imaging: every odd file kind a user has, clear load errors, conversions, and the one fixed colour scale."""

from __future__ import annotations

import os
import struct
import threading
import zlib
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from inspector_app.core import imaging
from inspector_app.core.errors import ImageLoadError
from inspector_app.core.imaging import (
    FAIL_COLOUR,
    HEATMAP_VMAX,
    PASS_COLOUR,
    draw_mask_contours,
    heatmap_rgb,
    load_image,
    load_mask,
    overlay_heatmap,
    heat_layer_bgra,
    resize,
    resize_map,
    rgb_to_bgrx,
    save_image,
    shrink_map_by_max,
    thumbnail,
    to_rgb_uint8,
    verdict_colour,
)

# A file maker writes one file into the folder and returns (path, expected uint8 RGB, tolerance).
Made = tuple[Path, np.ndarray, int]

RNG = np.random.default_rng(7)
NOISE_RGB = RNG.integers(0, 256, (12, 16, 3), dtype=np.uint8)
_XS, _YS = np.meshgrid(np.linspace(0, 255, 32), np.linspace(40, 200, 24))
GRADIENT_RGB = np.dstack([_XS, _YS, np.full_like(_XS, 90.0)]).astype(np.uint8)
GREY16 = np.array([[0, 257, 32768], [65535, 1000, 51400]], np.uint16)
GREY16_AS_8 = np.array([[0, 1, 128], [255, 4, 200]], np.uint8)


def grey_rgb(grey: np.ndarray) -> np.ndarray:
    return np.repeat(np.asarray(grey, np.uint8)[..., None], 3, axis=2)


def pil_saved(name: str, image: Image.Image, **options: object) -> Callable[[Path], Path]:
    def save(folder: Path) -> Path:
        path = folder / name
        image.save(path, **options)
        return path

    return save


def make_rgb_png(folder: Path) -> Made:
    return pil_saved("rgb.png", Image.fromarray(NOISE_RGB))(folder), NOISE_RGB, 0


def make_jpeg(folder: Path) -> Made:
    return pil_saved("photo.jpg", Image.fromarray(GRADIENT_RGB), quality=95)(folder), GRADIENT_RGB, 12


def make_grey16_png(folder: Path) -> Made:
    return pil_saved("grey16.png", Image.fromarray(GREY16))(folder), grey_rgb(GREY16_AS_8), 0


def make_grey16_tiff(folder: Path) -> Made:
    return pil_saved("grey16.tif", Image.fromarray(GREY16))(folder), grey_rgb(GREY16_AS_8), 0


def make_rgb48_tiff(folder: Path) -> Made:
    path = folder / "rgb48.tif"
    rgb16 = NOISE_RGB.astype(np.uint16) * 257
    cv2.imwrite(str(path), np.ascontiguousarray(rgb16[..., ::-1]))  # OpenCV writes BGR
    return path, NOISE_RGB, 0


def make_int32_tiff(folder: Path) -> Made:  # Pillow mode 'I'
    return pil_saved("int32.tif", Image.fromarray(GREY16.astype(np.int32)))(folder), grey_rgb(GREY16_AS_8), 0


def make_float_tiff(folder: Path) -> Made:  # Pillow mode 'F', values in [0, 1]
    values = np.array([[0.0, 0.5, 1.0], [0.25, 0.75, 0.1]], np.float32)
    expected = grey_rgb(np.rint(values * 255))
    return pil_saved("float.tif", Image.fromarray(values))(folder), expected, 0


def make_grey16_transparent_png(folder: Path) -> Made:
    expected = GREY16_AS_8.copy()
    expected[0, 2] = 0  # 32768 is the transparent value
    return pil_saved("grey16_t.png", Image.fromarray(GREY16), transparency=32768)(folder), grey_rgb(expected), 0


def make_grey_l(folder: Path) -> Made:
    grey = NOISE_RGB[..., 0]
    return pil_saved("grey.png", Image.fromarray(grey))(folder), grey_rgb(grey), 0


def make_grey_alpha(folder: Path) -> Made:
    la = np.array([[[200, 255], [200, 0], [200, 128]]], np.uint8)
    return pil_saved("la.png", Image.fromarray(la))(folder), grey_rgb([[200, 0, 100]]), 0


def make_rgba(folder: Path) -> Made:
    rgba = np.array([[[255, 100, 0, 255], [255, 255, 255, 0], [200, 100, 50, 51]]], np.uint8)
    expected = np.array([[[255, 100, 0], [0, 0, 0], [40, 20, 10]]], np.uint8)
    return pil_saved("rgba.png", Image.fromarray(rgba))(folder), expected, 0


def palette_image() -> tuple[Image.Image, np.ndarray]:
    colours = np.array([[0, 0, 0], [255, 0, 0], [0, 128, 255], [10, 200, 30]], np.uint8)
    indices = np.array([[0, 1, 2, 3], [3, 2, 1, 0]], np.uint8)
    image = Image.frombytes("P", (indices.shape[1], indices.shape[0]), indices.tobytes())
    image.putpalette(colours.flatten().tolist() + [0, 0, 0] * 252)
    return image, colours[indices]


def make_palette(folder: Path) -> Made:
    image, expected = palette_image()
    return pil_saved("palette.png", image)(folder), expected, 0


def make_palette_transparency(folder: Path) -> Made:
    image, expected = palette_image()
    expected = expected.copy()
    expected[np.array([[0, 1, 0, 0], [0, 0, 1, 0]], bool)] = 0  # index 1 (red) is the transparent one
    return pil_saved("palette_t.png", image, transparency=1)(folder), expected, 0


def make_cmyk_jpeg(folder: Path) -> Made:
    image = Image.new("CMYK", (16, 8), (0, 255, 255, 0))  # no cyan, full magenta and yellow: red
    expected = np.zeros((8, 16, 3), np.uint8)
    expected[...] = (255, 0, 0)
    return pil_saved("cmyk.jpg", image, quality=95)(folder), expected, 12


def make_one_bit(folder: Path) -> Made:
    bits = np.array([[0, 1, 1], [1, 0, 0]], bool)
    return pil_saved("bits.png", Image.fromarray(bits))(folder), grey_rgb(bits * 255), 0


def make_bmp(folder: Path) -> Made:
    return pil_saved("picture.bmp", Image.fromarray(NOISE_RGB))(folder), NOISE_RGB, 0


def make_exif_rotated_jpeg(folder: Path) -> Made:
    """Stored 40 wide × 20 high with a red block top-left; orientation 6 means "turn 90° clockwise to view"."""
    stored = np.full((20, 40, 3), 128, np.uint8)
    stored[:8, :8] = (255, 0, 0)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = pil_saved("rotated.jpg", Image.fromarray(stored), exif=exif, quality=95, subsampling=0)(folder)
    return path, np.ascontiguousarray(np.rot90(stored, k=-1)), 24


def make_multiframe_gif(folder: Path) -> Made:
    first = np.zeros((6, 9, 3), np.uint8)
    first[...] = (255, 0, 0)
    second = np.zeros((6, 9, 3), np.uint8)
    second[...] = (0, 0, 255)
    frames = [Image.fromarray(first), Image.fromarray(second)]
    path = pil_saved("anim.gif", frames[0], save_all=True, append_images=frames[1:], duration=100)(folder)
    return path, first, 0


def make_multiframe_tiff(folder: Path) -> Made:
    frames = [Image.fromarray(np.full((5, 7), value, np.uint8)) for value in (30, 220)]
    path = pil_saved("pages.tif", frames[0], save_all=True, append_images=frames[1:])(folder)
    return path, grey_rgb(np.full((5, 7), 30)), 0


@pytest.mark.parametrize(
    "make",
    [
        make_rgb_png,
        make_jpeg,
        make_grey16_png,
        make_grey16_tiff,
        make_grey16_transparent_png,
        make_rgb48_tiff,
        make_int32_tiff,
        make_float_tiff,
        make_grey_l,
        make_grey_alpha,
        make_rgba,
        make_palette,
        make_palette_transparency,
        make_cmyk_jpeg,
        make_one_bit,
        make_bmp,
        make_exif_rotated_jpeg,
        make_multiframe_gif,
        make_multiframe_tiff,
    ],
    ids=lambda make: make.__name__.removeprefix("make_"),
)
def test_load_image_turns_every_kind_into_rgb_uint8(tmp_path: Path, make: Callable[[Path], Made]) -> None:
    path, expected, tolerance = make(tmp_path)
    image = load_image(path)
    assert image.dtype == np.uint8
    assert image.shape == expected.shape
    assert image.flags.c_contiguous and image.flags.writeable
    worst = int(np.abs(image.astype(int) - expected.astype(int)).max())
    assert worst <= tolerance, f"{path.name}: off by up to {worst}"


def test_sixteen_bit_is_scaled_not_clipped(tmp_path: Path) -> None:
    path = tmp_path / "levels.png"
    Image.fromarray(np.array([[65535, 32768, 255]], np.uint16)).save(path)
    assert load_image(path)[0, :, 0].tolist() == [255, 128, 1]


def test_exif_orientation_swaps_size_and_moves_pixels(tmp_path: Path) -> None:
    path, _, _ = make_exif_rotated_jpeg(tmp_path)
    image = load_image(path)
    assert image.shape[:2] == (40, 20)  # was 40 wide × 20 high: now 20 wide × 40 high
    top_right, top_left = image[3, -4], image[3, 3]
    assert top_right[0] > 200 and top_right[1] < 60  # the red block turned with the picture
    assert abs(int(top_left[0]) - 128) < 20


def tiny_png_header(width: int, height: int) -> bytes:
    """A PNG that claims a size in its header and holds a few bytes of junk pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"junk") + chunk(b"IEND", b"")


def error_missing(folder: Path) -> tuple[Path, dict]:
    return folder / "nowhere.png", {}


def error_empty(folder: Path) -> tuple[Path, dict]:
    path = folder / "empty.png"
    path.touch()
    return path, {}


def error_text(folder: Path) -> tuple[Path, dict]:
    path = folder / "notes.png"
    path.write_text("these are my notes, not a picture\n")
    return path, {}


def error_truncated_png(folder: Path) -> tuple[Path, dict]:
    path = folder / "cut.png"
    Image.fromarray(RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path, {}


def error_truncated_jpeg(folder: Path) -> tuple[Path, dict]:
    path = folder / "cut.jpg"
    Image.fromarray(RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(path, quality=90)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path, {}


def error_too_large(folder: Path) -> tuple[Path, dict]:
    path = folder / "big.png"
    Image.new("RGB", (50, 40)).save(path)
    return path, {"max_pixels": 1000}


def error_header_claims_too_large(folder: Path) -> tuple[Path, dict]:
    """Past MAX_PIXELS but inside Pillow's own warning band: our check must answer, not Pillow's warning."""
    path = folder / "claims_100mp.png"
    path.write_bytes(tiny_png_header(10_000, 10_001))
    return path, {}


def error_bomb(folder: Path) -> tuple[Path, dict]:
    """A header claiming 400 megapixels: Pillow's own DecompressionBombError must not escape."""
    path = folder / "bomb.png"
    path.write_bytes(tiny_png_header(20_000, 20_000))
    return path, {}


def error_folder(folder: Path) -> tuple[Path, dict]:
    path = folder / "pictures.png"
    path.mkdir()
    return path, {}


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (error_missing, "file not found"),
        (error_empty, "empty file (0 bytes)"),
        (error_text, "not an image file (looks like text"),
        (error_truncated_png, "truncated or corrupt image data"),
        (error_truncated_jpeg, "truncated or corrupt image data"),
        (error_too_large, "image too large: 50×40 pixels exceeds the limit of 1,000"),
        (error_header_claims_too_large, "image too large: 10000×10001 pixels exceeds the limit of 100,000,000"),
        (error_bomb, "image too large"),
        (error_folder, "is a folder"),
    ],
    ids=lambda v: v.__name__.removeprefix("error_") if callable(v) else "",
)
def test_load_errors_name_the_file_and_the_reason(
    tmp_path: Path, make: Callable[[Path], tuple[Path, dict]], reason: str
) -> None:
    path, kwargs = make(tmp_path)
    with pytest.raises(ImageLoadError) as caught:
        load_image(path, **kwargs)
    assert caught.value.path == str(path)
    assert reason in caught.value.reason
    assert str(path) in str(caught.value) and reason in str(caught.value)


def test_load_mask_errors_are_image_load_errors(tmp_path: Path) -> None:
    with pytest.raises(ImageLoadError, match="file not found"):
        load_mask(tmp_path / "missing_mask.png")


# ---------------------------------------------------------------------------------------------------- masks


def mask_file(folder: Path, name: str, array: np.ndarray) -> Path:
    path = folder / name
    Image.fromarray(array).save(path)
    return path


@pytest.mark.parametrize(
    ("name", "array", "expected"),
    [
        ("l.png", np.array([[0, 255], [0, 1]], np.uint8), [[False, True], [False, True]]),
        ("sixteen.png", np.array([[0, 1], [0, 0]], np.uint16), [[False, True], [False, False]]),
        ("bits.png", np.array([[True, False], [False, False]]), [[True, False], [False, False]]),
        ("green.png", np.array([[[0, 0, 0], [0, 255, 0]]], np.uint8), [[False, True]]),
        ("alpha.png", np.array([[[255, 255, 255, 0], [255, 0, 0, 255]]], np.uint8), [[False, True]]),
    ],
    ids=["grey", "16-bit holding 1", "1-bit", "green on black", "transparent white"],
)
def test_load_mask_marks_every_non_zero_pixel(tmp_path: Path, name: str, array: np.ndarray, expected: list) -> None:
    mask = load_mask(mask_file(tmp_path, name, array))
    assert mask.dtype == bool
    assert mask.tolist() == expected


def test_load_mask_resizes_with_nearest_neighbour(tmp_path: Path) -> None:
    array = np.zeros((10, 20), np.uint8)
    array[:, 10:] = 255
    mask = load_mask(mask_file(tmp_path, "half.png", array), size=(40, 5))
    assert mask.shape == (5, 40) and mask.dtype == bool
    assert not mask[:, :20].any() and mask[:, 20:].all()
    assert load_mask(mask_file(tmp_path, "same.png", array), size=(20, 10)).shape == (10, 20)


# ----------------------------------------------------------------------------------------------- conversion


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


# ---------------------------------------------------------------------------------------------------- saving


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


# ---------------------------------------------------------------------------------------------------- colour


def colour_of(value: float, vmax: float = HEATMAP_VMAX) -> np.ndarray:
    return heatmap_rgb(np.array([[value]], np.float32), vmax)[0, 0].astype(int)


@pytest.mark.parametrize("vmax", [1.5, HEATMAP_VMAX, 3.0, 4.0])
def test_heatmap_changes_sharply_at_the_threshold(vmax: float) -> None:
    below, at, above = colour_of(0.99, vmax), colour_of(1.0, vmax), colour_of(1.01, vmax)
    assert np.abs(above - below).sum() > 150
    assert np.abs(at - above).sum() < 20  # 1.0 itself is drawn as "at the threshold"
    assert below[0] < 100 and at[0] == 255


def test_heatmap_warms_monotonically_above_the_threshold() -> None:
    colours = heatmap_rgb(np.linspace(1.0, 2.5, 400, dtype=np.float32)[None, :])[0].astype(int)
    assert (np.diff(colours[:, 0]) >= 0).all(), "red must never fall above the threshold"
    assert (np.diff(colours[:, 1]) <= 0).all(), "green must never rise above the threshold"
    assert colours[-1, 1] < 40 and colours[0, 1] > 200  # yellow at 1.0, red at the top


@pytest.mark.parametrize(
    ("low", "high"),
    [(0.0, 0.5), (0.0, 5.0), (-3.0, 0.45), (0.4, 0.41), (0.2, 100.0)],
)
def test_heatmap_scale_is_fixed_not_per_image(low: float, high: float) -> None:
    """The same value must get the same colour in every frame, whatever else the frame holds."""
    reference = heatmap_rgb(np.array([[0.4, 1.5]], np.float32))
    frame = np.linspace(low, high, 64, dtype=np.float32).reshape(8, 8)
    frame[0, 0], frame[0, 1] = 0.4, 1.5
    np.testing.assert_array_equal(heatmap_rgb(frame)[0, :2], reference[0])


def test_heatmap_of_a_quiet_frame_stays_cold() -> None:
    colours = heatmap_rgb(np.linspace(0.0, 0.5, 50, dtype=np.float32)[None, :])[0].astype(int)
    assert (colours[:, 2] > colours[:, 0]).all(), "a frame far below the threshold must not look hot"


OUT_OF_RANGE = [
    (-1.0, 0.0), (-np.inf, 0.0), (np.nan, 0.0), (5.0, HEATMAP_VMAX), (np.inf, HEATMAP_VMAX), (3e38, HEATMAP_VMAX)
]


@pytest.mark.parametrize(("value", "same_as"), OUT_OF_RANGE)
def test_heatmap_clamps_out_of_range_values(value: float, same_as: float) -> None:
    np.testing.assert_array_equal(colour_of(value), colour_of(same_as))


@pytest.mark.parametrize("vmax", [HEATMAP_VMAX, 3.0])
def test_heatmap_clamps_out_of_range_values_in_long_rows(vmax: float) -> None:
    """OpenCV takes long rows in vector registers, short ones and row ends one value at a time: the clamping
    must hold both ways (a vector min or max can turn NaN into the bound), at every position in a row."""
    values = np.array([v for v, _ in OUT_OF_RANGE] * 50, np.float32)[None, :]
    expected = np.array([vmax if s == HEATMAP_VMAX else s for _, s in OUT_OF_RANGE] * 50, np.float32)[None, :]
    for shift in range(17):
        rows = np.roll(values, shift, axis=1), np.roll(expected, shift, axis=1)
        np.testing.assert_array_equal(heatmap_rgb(rows[0], vmax), heatmap_rgb(rows[1], vmax))


@pytest.mark.parametrize("vmax", [1.0, 0.5, 1000.0])
def test_heatmap_rejects_a_scale_without_the_threshold_inside(vmax: float) -> None:
    with pytest.raises(ValueError, match="vmax"):
        heatmap_rgb(np.zeros((2, 2), np.float32), vmax)


# --------------------------------------------------------------------------------------------------- overlay


@pytest.mark.parametrize("value", [0.0, 0.29, -4.0])
def test_overlay_leaves_a_good_part_untouched(value: float) -> None:
    image = RNG.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    out = overlay_heatmap(image, np.full((40, 50), value, np.float32))
    np.testing.assert_array_equal(out, image)
    assert out is not image


def test_overlay_paints_anomalies_with_the_expected_blend() -> None:
    image = np.full((30, 20, 3), 100, np.uint8)
    out = overlay_heatmap(image, np.full((30, 20), 2.0, np.float32), opacity=0.5)
    expected = np.rint(0.5 * 100 + 0.5 * colour_of(2.0))
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - expected).max() <= 1


def test_overlay_matches_a_plain_reference_at_awkward_sizes() -> None:
    """Strip-wise and column-cropped blending must equal whole-frame arithmetic (height not a strip multiple)."""
    image = RNG.integers(0, 256, (301, 263, 3), dtype=np.uint8)
    norm_map = RNG.uniform(-0.5, 2.5, (301, 263)).astype(np.float32)
    norm_map[:100] = 0.1  # a quiet band: those strips are skipped
    opacity = 0.7
    alpha = opacity * np.clip((norm_map - 0.3) / 0.7, 0.0, 1.0)[..., None]
    expected = image * (1 - alpha) + heatmap_rgb(norm_map) * alpha
    assert np.abs(overlay_heatmap(image, norm_map, opacity).astype(float) - expected).max() <= 3


def test_overlay_resizes_a_smaller_map_and_accepts_grey_images() -> None:
    image = np.full((64, 80), 90, np.uint8)
    small = np.zeros((8, 10), np.float32)
    small[:4] = 2.0
    out = overlay_heatmap(image, small)
    assert out.shape == (64, 80, 3)
    assert (out[:24] != 90).any(axis=2).all() and (out[-24:] == 90).all()


@pytest.mark.parametrize("opacity", [0.0, -1.0])
def test_overlay_with_no_opacity_changes_nothing(opacity: float) -> None:
    image = RNG.integers(0, 256, (10, 10, 3), dtype=np.uint8)
    np.testing.assert_array_equal(overlay_heatmap(image, np.full((10, 10), 2.0), opacity), image)


@pytest.mark.parametrize("vmax", [HEATMAP_VMAX, 2.5, 3.0, 256.0])
def test_heatmap_index_splits_exactly_at_the_threshold(vmax: float) -> None:
    """The largest float32 below 1.0 is cold and 1.0 warm, for even (fast path) and odd entry counts."""
    just_below = np.nextafter(np.float32(1.0), np.float32(0.0))
    just_above = np.nextafter(np.float32(1.0), np.float32(2.0))
    below, at, above = (colour_of(float(v), vmax) for v in (just_below, 1.0, just_above))
    assert below[0] < 100 and at[0] == 255 and above[0] == 255


def lay_over(picture: np.ndarray, layer: np.ndarray, regions: list[tuple[int, int, int, int]]) -> np.ndarray:
    """The "source over" rule in exact integer arithmetic: layer + picture · (255 − A) / 255, rounded."""
    out = picture.astype(int)
    for x, y, w, h in regions:
        part = layer[y : y + h, x : x + w].astype(int)
        rgb, alpha = part[..., 2::-1], part[..., 3:]
        out[y : y + h, x : x + w] = rgb + (2 * out[y : y + h, x : x + w] * (255 - alpha) + 255) // 510
    return out


def test_heat_layer_laid_over_the_picture_equals_the_overlay() -> None:
    """The window's path (a premultiplied layer blended by the display) shows what ``overlay_heatmap`` returns,
    with quiet strips and quiet columns left out of the layer."""
    image = RNG.integers(0, 256, (301, 1100, 3), dtype=np.uint8)  # strips of 59 rows at this width
    norm_map = RNG.uniform(-0.5, 2.5, (301, 1100)).astype(np.float32)
    norm_map[:130] = 0.1  # two strips with nothing to blend
    norm_map[150:, :120] = 0.0  # strips blended in some columns only
    norm_map[200, 130:136] = [np.nan, np.inf, -np.inf, 3e38, -3e38, 1.0]
    layer = np.full((301, 1100, 4), 77, np.uint8)  # whatever an older frame left there
    regions = heat_layer_bgra(norm_map, 0.6, layer)
    assert [y for _, y, _, _ in regions] == [118, 177, 236, 295]
    assert [x for x, _, _, _ in regions][1:] == [120, 120, 120]
    np.testing.assert_array_equal(lay_over(image, layer, regions), overlay_heatmap(image, norm_map, 0.6))
    alpha = layer[..., 3:].astype(int)
    for x, y, w, h in regions:  # premultiplied: no colour byte above its alpha, or a display would overflow
        assert (layer[y : y + h, x : x + w, :3] <= alpha[y : y + h, x : x + w]).all()


@pytest.mark.parametrize(("value", "opacity"), [(0.29, 0.8), (2.0, 0.0), (2.0, float("nan"))])
def test_heat_layer_is_empty_for_a_good_part_or_no_opacity(value: float, opacity: float) -> None:
    layer = np.zeros((40, 30, 4), np.uint8)
    assert heat_layer_bgra(np.full((40, 30), value, np.float32), opacity, layer) == []
    assert not layer.any()


def test_heat_layer_resizes_a_smaller_map_to_the_picture() -> None:
    image = RNG.integers(0, 256, (64, 80, 3), dtype=np.uint8)
    small = RNG.uniform(0.0, 2.0, (8, 10)).astype(np.float32)
    layer = np.zeros((64, 80, 4), np.uint8)
    regions = heat_layer_bgra(small, 0.5, layer)
    np.testing.assert_array_equal(lay_over(image, layer, regions), overlay_heatmap(image, small, 0.5))


def test_heat_layer_refuses_a_layer_it_cannot_fill() -> None:
    unfit = (np.zeros((10, 12, 3), np.uint8), np.zeros((10, 12, 4), np.float32),
             np.zeros((10, 24, 4), np.uint8)[:, ::2])
    for bad in unfit:
        with pytest.raises(ValueError, match="layer must be"):
            heat_layer_bgra(np.zeros((10, 12), np.float32), 0.5, bad)


def test_rgb_to_bgrx_refuses_an_output_it_cannot_fill() -> None:
    image = np.zeros((10, 12, 3), np.uint8)
    unfit = (np.zeros((10, 12, 3), np.uint8), np.zeros((12, 10, 4), np.uint8), np.zeros((10, 12, 4), np.float32),
             np.zeros((10, 24, 4), np.uint8)[:, ::2])
    for bad in unfit:
        with pytest.raises(ValueError, match="output must be .* 10×12×4"):
            rgb_to_bgrx(image, bad)


def test_rgb_to_bgrx_swaps_channels_and_sets_the_fourth_byte() -> None:
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    out = np.zeros((3, 4, 4), np.uint8)
    rgb_to_bgrx(grey, out)
    np.testing.assert_array_equal(out[..., :3], np.repeat(grey[..., None], 3, axis=2))
    colour = np.zeros((2, 2, 3), np.uint8)
    colour[..., 0] = 200  # red
    out = np.zeros((2, 2, 4), np.uint8)
    rgb_to_bgrx(colour, out)
    assert out[0, 0].tolist() == [0, 0, 200, 255]


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


# -------------------------------------------------------------------------------------------------- contours


def test_contours_of_an_empty_mask_change_nothing() -> None:
    image = RNG.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    out = draw_mask_contours(image, np.zeros((32, 32), bool))
    np.testing.assert_array_equal(out, image)
    assert out is not image


@pytest.mark.parametrize(
    "mask",
    [
        np.pad(np.ones((20, 20), bool), 22),  # a 64×64 bool mask with the square at 22..41
        np.pad(np.ones((20, 20), np.float32), 22) * 0.9,  # a float map above level 0.5
        cv2.resize(np.pad(np.ones((10, 10), np.uint8), 11), (64, 64), interpolation=cv2.INTER_NEAREST) > 0,
        np.pad(np.ones((10, 10), bool), 11),  # a 32×32 mask: resized to the image
    ],
    ids=["bool", "float", "resized bool", "half-size bool"],
)
def test_contours_draw_only_near_the_square_border(mask: np.ndarray) -> None:
    image = np.zeros((64, 64, 3), np.uint8)
    out = draw_mask_contours(image, mask, colour=(255, 40, 40), thickness=2)
    drawn = (out == (255, 40, 40)).all(axis=2)
    assert drawn.any()
    ys, xs = np.nonzero(drawn)
    distance_to_border = np.minimum.reduce([np.abs(ys - 22), np.abs(ys - 41), np.abs(xs - 22), np.abs(xs - 41)])
    assert distance_to_border.max() <= 2
    assert not drawn[28:36, 28:36].any() and not drawn[:15].any()


# ---------------------------------------------------------------------------------------------------- verdict


@pytest.mark.parametrize(("failed", "colour"), [(True, FAIL_COLOUR), (False, PASS_COLOUR)])
def test_verdict_colour(failed: bool, colour: tuple[int, int, int]) -> None:
    assert verdict_colour(failed) == colour


# -- the OpenCV path for plain files --------------------------------------------------------------------------


def make_grey_jpeg(folder: Path) -> Made:
    grey = GRADIENT_RGB[..., 0]
    return pil_saved("grey.jpg", Image.fromarray(grey), quality=95)(folder), grey_rgb(grey), 12


def make_rgb_png_with_text(folder: Path) -> Made:
    from PIL.PngImagePlugin import PngInfo  # noqa: PLC0415

    info = PngInfo()
    info.add_text("Comment", "station 3")
    return pil_saved("text.png", Image.fromarray(NOISE_RGB), pnginfo=info)(folder), NOISE_RGB, 0


@pytest.mark.parametrize(
    "make",
    [make_rgb_png, make_grey_l, make_rgb_png_with_text, make_jpeg, make_grey_jpeg, make_exif_rotated_jpeg],
    ids=lambda make: make.__name__.removeprefix("make_"),
)
def test_plain_files_take_the_opencv_path_and_read_as_pillow_reads_them(
    tmp_path: Path, make: Callable[[Path], Made]
) -> None:
    path, expected, tolerance = make(tmp_path)
    assert imaging._plain_8bit_image(path.read_bytes()) is not None
    fast, pillow = load_image(path), imaging._decode(path, imaging.MAX_PIXELS, imaging._pil_to_rgb)
    assert fast.shape == pillow.shape == expected.shape
    assert fast.flags.c_contiguous and fast.flags.writeable
    assert int(np.abs(fast.astype(int) - pillow.astype(int)).max()) <= (0 if path.suffix == ".png" else 2)


def test_plain_files_read_the_same_with_an_opencv_that_cannot_decode_to_rgb(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OpenCV before 4.10 has no IMREAD_COLOR_RGB: its BGR result is converted instead."""
    path, expected, _ = make_rgb_png(tmp_path)
    monkeypatch.setattr(imaging, "_IMREAD_RGB", cv2.IMREAD_COLOR)
    np.testing.assert_array_equal(load_image(path), expected)


def make_rgb_png_with_transparent_colour(folder: Path) -> Made:
    expected = NOISE_RGB.copy()
    key = tuple(int(v) for v in NOISE_RGB[0, 0])
    expected[np.all(NOISE_RGB == key, axis=2)] = 0
    return pil_saved("rgb_t.png", Image.fromarray(NOISE_RGB), transparency=key)(folder), expected, 0


def make_png_with_exif_orientation(folder: Path) -> Made:
    stored = np.full((4, 6, 3), 90, np.uint8)
    stored[0, 0] = (255, 0, 0)
    exif = Image.Exif()
    exif[0x0112] = 3  # upside down
    path = pil_saved("turned.png", Image.fromarray(stored), exif=exif)(folder)
    return path, np.ascontiguousarray(stored[::-1, ::-1]), 0


@pytest.mark.parametrize(
    "make",
    [
        make_rgba,
        make_grey_alpha,
        make_palette,
        make_grey16_png,
        make_one_bit,
        make_cmyk_jpeg,
        make_rgb_png_with_transparent_colour,
        make_png_with_exif_orientation,
        make_bmp,
    ],
    ids=lambda make: make.__name__.removeprefix("make_"),
)
def test_files_that_need_pillow_take_the_pillow_path(tmp_path: Path, make: Callable[[Path], Made]) -> None:
    path, expected, tolerance = make(tmp_path)
    assert imaging._plain_8bit_image(path.read_bytes()) is None
    worst = int(np.abs(load_image(path).astype(int) - expected.astype(int)).max())
    assert worst <= tolerance


@pytest.mark.parametrize("make", [error_truncated_png, error_truncated_jpeg], ids=["png", "jpeg"])
def test_truncated_files_are_left_to_pillow(tmp_path: Path, make: Callable[[Path], tuple[Path, dict]]) -> None:
    path, _ = make(tmp_path)
    assert imaging._plain_8bit_image(path.read_bytes()) is None


# -- reading the file: bare os calls, every path closes what it opened ----------------------------------------


def _reported_size(monkeypatch: pytest.MonkeyPatch, change: int) -> None:
    """Make ``os.fstat`` report ``change`` bytes more or fewer than a file holds: a file written meanwhile."""
    real_fstat = imaging.os.fstat

    class Status:
        def __init__(self, status: object) -> None:
            self.st_mode, self.st_size = status.st_mode, status.st_size + change

    monkeypatch.setattr(imaging.os, "fstat", lambda fd: Status(real_fstat(fd)))


@pytest.mark.parametrize(
    "change", [-500, -9, 1, 5000], ids=["grew-500-bytes", "grew-9-bytes", "shrank-a-byte", "shrank-5000-bytes"]
)
def test_a_file_whose_size_changed_after_it_was_opened_is_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: int
) -> None:
    """Read until the end whatever size was reported: a file that grew since is not cut short (and so not
    sent to Pillow as truncated); one reported larger than it is reads as it is."""
    big = np.ascontiguousarray(np.tile(NOISE_RGB, (40, 40, 1)))  # some 30 kB of PNG
    path = pil_saved("grown.png", Image.fromarray(big))(tmp_path)
    _reported_size(monkeypatch, change)
    assert imaging._read_if_png_or_jpeg(path) == path.read_bytes()
    np.testing.assert_array_equal(load_image(path), big)


def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    if not hasattr(os, "mkfifo"):
        pytest.skip("named pipes need os.mkfifo (POSIX)")
    pipe = tmp_path / "camera.png"
    os.mkfifo(pipe)
    outcome: list[BaseException] = []
    reader = threading.Thread(target=lambda: outcome.append(pytest.raises(ImageLoadError, load_image, pipe).value),
                              daemon=True)
    reader.start()
    reader.join(5)
    if reader.is_alive():  # unblock the stuck open so the thread can end, then fail
        with open(pipe, "wb"):
            pass
        pytest.fail("load_image waited for a writer on a named pipe")
    assert "empty file" in outcome[0].reason


@pytest.mark.parametrize(
    ("error", "kind", "stat_refused", "reason"),
    [
        (PermissionError, "file", False, "permission denied"),
        (PermissionError, "empty", False, "empty file (0 bytes)"),
        (PermissionError, "folder", False, "is a folder"),
        (IsADirectoryError, "folder", False, "is a folder"),
        (PermissionError, "file", True, "permission denied"),
    ],
    ids=["no-permission", "empty-and-no-permission", "folder-on-windows", "folder-refused", "folder-not-enterable"],
)
def test_refused_opens_give_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: type[OSError], kind: str, stat_refused: bool, reason: str
) -> None:
    """As the operating system refuses them (made up here: as root nothing is refused; Windows refuses to open
    a folder as a file, where Linux opens it). An empty file reads as empty, as its size needs no permission;
    a file in a folder that cannot be entered, where even its size is refused, is still an ImageLoadError."""
    path = tmp_path / "part.png"
    if kind == "folder":
        path.mkdir()
    else:
        path.write_bytes(b"" if kind == "empty" else b"\x89PNG\r\n\x1a\n")

    def refuse(*_args: object, **_kwargs: object) -> int:
        raise error(13, "refused", str(path))

    monkeypatch.setattr(imaging.os, "open", refuse)
    if stat_refused:
        monkeypatch.setattr(imaging.os, "stat", refuse)
    with pytest.raises(ImageLoadError) as caught:
        load_image(path)
    assert caught.value.reason == reason


def test_a_failed_close_after_a_whole_read_keeps_the_picture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, expected, _ = make_rgb_png(tmp_path)
    real_close = imaging.os.close

    def close_then_fail(fd: int) -> None:
        real_close(fd)
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(imaging.os, "close", close_then_fail)
    np.testing.assert_array_equal(load_image(path), expected)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts open files through /proc/self/fd (Linux)")
def test_reading_leaves_no_file_open(tmp_path: Path) -> None:
    made = [make_rgb_png(tmp_path)[0], make_jpeg(tmp_path)[0], make_bmp(tmp_path)[0]]
    failing = [error_empty(tmp_path)[0], error_folder(tmp_path)[0], error_text(tmp_path)[0],
               error_truncated_png(tmp_path)[0]]
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        for path in made:
            load_image(path)
        for path in failing:
            with pytest.raises(ImageLoadError):
                load_image(path)
    assert len(os.listdir("/proc/self/fd")) == before


def test_a_nan_map_resized_to_the_picture_paints_and_outlines_nothing() -> None:
    """NaN is a model's failure, not an anomaly: after resizing (bilinear and area) it must stay cold, be
    left out of the overlay and never be outlined, and ±inf must not spread NaN to its neighbours."""
    image = np.full((64, 64, 3), 90, np.uint8)
    for size in (16, 128):  # enlarged and shrunk to the picture
        norm_map = np.zeros((size, size), np.float32)
        norm_map[4:8, 4:8] = np.nan
        np.testing.assert_array_equal(overlay_heatmap(image, norm_map, 0.8), image)
        np.testing.assert_array_equal(draw_mask_contours(image, norm_map, level=0.5), image)
        assert (heatmap_rgb(resize_map(norm_map, 64, 64)) == heatmap_rgb(np.zeros((1, 1), np.float32))).all()
        norm_map[4:8, 4:8] = np.inf
        resized = resize_map(norm_map, 64, 64)
        assert np.isfinite(resized).all() and resized.max() > HEATMAP_VMAX
