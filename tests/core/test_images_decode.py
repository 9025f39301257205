"""images.decode: every odd file kind a user has, and clear reasons when a file cannot be read."""

from __future__ import annotations

import os
import struct
import threading
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import cv2
import numpy as np
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from inspector_app.core.errors import ImageLoadError
from inspector_app.core.images import load_image, load_mask

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


def make_grey_jpeg(folder: Path) -> Made:
    grey = GRADIENT_RGB[..., 0]
    return pil_saved("grey.jpg", Image.fromarray(grey), quality=95)(folder), grey_rgb(grey), 12


def make_rgb_png_with_text(folder: Path) -> Made:
    info = PngInfo()
    info.add_text("Comment", "station 3")
    return pil_saved("text.png", Image.fromarray(NOISE_RGB), pnginfo=info)(folder), NOISE_RGB, 0


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
        make_rgb_png,
        make_jpeg,
        make_grey_jpeg,
        make_rgb_png_with_text,
        make_rgb_png_with_transparent_colour,
        make_png_with_exif_orientation,
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


# -- reading the file: reasons that need no decoding, nothing left open ------------------------------------------------


def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    """Its size is 0, so the size check refuses it before anything opens it (an open would wait for a writer)."""
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
def test_refused_reads_give_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: type[OSError], kind: str, stat_refused: bool, reason: str
) -> None:
    """As the operating system refuses them (made up here: as root nothing is refused; Windows refuses to open
    a folder as a file, where Linux opens it). An empty file or a folder says so, as its size and kind need no
    permission to read; a file in a folder that cannot be entered, where even its size is refused, is still an
    ImageLoadError."""
    path = tmp_path / "part.png"
    if kind == "folder":
        path.mkdir()
    else:
        path.write_bytes(b"" if kind == "empty" else b"\x89PNG\r\n\x1a\n")

    def refuse(*_args: object, **_kwargs: object) -> NoReturn:
        raise error(13, "refused", str(path))

    monkeypatch.setattr(Image, "open", refuse)
    if stat_refused:
        monkeypatch.setattr(os, "stat", refuse)
    with pytest.raises(ImageLoadError) as caught:
        load_image(path)
    assert caught.value.reason == reason


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
