"""Image files -> ``uint8`` RGB pictures and ``bool`` defect masks, with the reason when a file cannot be read."""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import struct
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from inspector_app.core.errors import ImageLoadError
from inspector_app.core.images.convert import composite_on_black, grey_to_rgb, grey_to_uint8
from inspector_app.core.images.resizing import resize

log = logging.getLogger(__name__)

MAX_PIXELS: int = 100_000_000
"""Larger images are refused: a small compressed file can claim billions of pixels (a decompression bomb)."""

_T = TypeVar("_T")

# Errors Pillow's decoders raise on damaged data; anything else is a bug of ours and should surface as such.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error, IndexError, KeyError)

_GREY_MODES = frozenset({"1", "L", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"})
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_EXIF_ORIENTATION = 0x0112


class _UnsupportedImage(Exception):
    """A decodable file whose pixel format this module cannot turn into RGB (its message is the reason)."""


def load_image(path: str | os.PathLike[str], max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read any image file a user is likely to have as ``uint8`` RGB ``H×W×3`` (C-contiguous, writable).

    Handles 8/16-bit, 32-bit integer and float greyscale (scaled into 0..255, never clipped), palette, CMYK
    and 1-bit files, applies the EXIF orientation, and takes the first frame of multi-frame files.
    Transparent pixels are composited over black, so "nothing there" reads as dark background and a file
    always gives the same pixels whatever checkerboard a viewer happens to show behind it.

    Args:
        path: The image file.
        max_pixels: Refuse images with more pixels than this (checked from the header, before decoding).

    Returns:
        The decoded picture.

    Raises:
        ImageLoadError: The file is missing, empty, a folder, not an image, truncated or too large; the
            message names the file and the reason.
    """
    file = Path(path)
    data = _read_if_png_or_jpeg(file)
    plain = _plain_8bit_image(data)
    if plain is not None:
        width, height, grey = plain
        _check_pixels(file, (width, height), max_pixels)
        decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE if grey else _IMREAD_RGB)
        if decoded is not None and decoded.shape[:2] == (height, width):
            if grey:
                return cv2.cvtColor(decoded, cv2.COLOR_GRAY2RGB)
            return decoded if _IMREAD_RGB != cv2.IMREAD_COLOR else cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)
    return _decode(path, max_pixels, _pil_to_rgb)


def load_mask(path: str | os.PathLike[str], size: tuple[int, int] | None = None) -> np.ndarray:
    """Read a defect mask file as ``bool`` ``H×W``: any non-zero pixel is defect.

    Grey files (8/16-bit, 1-bit, float) are tested directly, so a 16-bit mask holding 1 still counts;
    colour files count a pixel whose red, green or blue is non-zero after compositing alpha over black.

    Args:
        path: The mask file.
        size: ``(width, height)`` to resize to with nearest-neighbour, so the mask stays binary.

    Raises:
        ImageLoadError: As for :func:`load_image`.
    """
    mask = _decode(path, MAX_PIXELS, _pil_to_mask)
    if size is not None and (mask.shape[1], mask.shape[0]) != tuple(size):
        mask = resize(mask, size, "nearest")
    return mask


def _decode(path: str | os.PathLike[str], max_pixels: int, convert: Callable[[Image.Image], _T]) -> _T:
    """Open, check, fully decode and convert one file, turning every failure into an ImageLoadError."""
    file = Path(path)
    _check_file(file)
    try:
        # Our own max_pixels check replaces Pillow's warning band (89 to 179 megapixels); the filter is only
        # for that one warning category, so the usual thread-safety caveat of catch_warnings is harmless.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(file) as image:
                _check_pixels(file, image.size, max_pixels)
                image.load()  # decode everything here, so a truncated file fails inside this try
                return convert(_upright(image))
    except ImageLoadError:
        raise
    except _UnsupportedImage as exc:
        raise ImageLoadError(file, str(exc)) from exc
    except Image.DecompressionBombError as exc:
        raise ImageLoadError(file, f"image too large: {exc}") from exc
    except UnidentifiedImageError as exc:
        raise ImageLoadError(file, f"not an image file ({_describe_contents(file)})") from exc
    except FileNotFoundError as exc:
        raise ImageLoadError(file, "file not found") from exc
    except PermissionError as exc:
        raise ImageLoadError(file, "permission denied") from exc
    except MemoryError as exc:
        raise ImageLoadError(file, "not enough memory to decode it") from exc
    except _DECODE_ERRORS as exc:
        log.debug("decoding %s failed", file, exc_info=True)
        raise ImageLoadError(file, "truncated or corrupt image data") from exc


# ------------------------------------------------------------------------- the OpenCV path for plain files
#
# Most files a line produces are plain 8-bit RGB or grey PNG or JPEG. OpenCV decodes those without holding
# Python's interpreter lock, while Pillow parses them in Python first: with the frame reader decoding beside
# the inference thread, Pillow's decoding slowed inference by about 10 % on two cores, OpenCV's by less than
# half of that. Anything that needs Pillow's care (transparency, palette, 16 bits, CMYK, PNG EXIF, a missing
# end marker) takes the Pillow path, which also gives the precise error message for a damaged file.
# The file is read with bare ``os`` calls and decoded straight to RGB: in the frame reader that halved the
# times it takes the lock back per frame (about 16 to 8 over a 600-frame stream, a perf probe on ``take_gil``).

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"
_PNG_GREY, _PNG_RGB = 0, 2
_PNG_CHUNKS_WITH_PIXELS_OF_THEIR_OWN = frozenset({b"tRNS", b"eXIf", b"acTL", b"PLTE"})
_JPEG_FRAME_MARKERS = frozenset({0xC0, 0xC1, 0xC2})  # baseline, extended and progressive Huffman
_JPEG_NO_LENGTH_MARKERS = frozenset({0x01, *range(0xD0, 0xD8)})
#: Decoding straight to RGB (newer OpenCV; older ones convert after) saves a conversion and its release of the lock.
_IMREAD_RGB = getattr(cv2, "IMREAD_COLOR_RGB", cv2.IMREAD_COLOR)
#: Binary on Windows; non-blocking so a named pipe given as an image cannot hang the reader (no effect on files).
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)


def _read_if_png_or_jpeg(file: Path) -> bytes:
    """The whole file when it starts like a PNG or JPEG, else nothing (a large TIFF is not read twice).

    Raises the reasons that need no decoding: missing, a folder, empty, permission denied. Read with bare
    ``os`` calls (open, size, two reads, close) rather than a Python file object, which makes about twice
    as many system calls: each lets go of the interpreter lock and must take it back, and in the frame reader
    every such hand-over can keep the inference thread waiting.
    """
    try:
        fd = os.open(file, _OPEN_FLAGS)
    except FileNotFoundError as exc:
        raise ImageLoadError(file, "file not found") from exc
    except (IsADirectoryError, PermissionError) as exc:  # Windows refuses to open a folder as a file
        _check_file(file)  # a folder or an empty file says so: its size needs no permission to read
        raise ImageLoadError(file, "permission denied") from exc
    except OSError:
        return b""  # the Pillow path names the reason
    try:
        status = os.fstat(fd)
        _check_status(file, status)
        head = os.read(fd, 8)
        if not (head.startswith(_PNG_SIGNATURE) or head.startswith(b"\xff\xd8")):
            return b""
        return head + _read_rest(fd, max(status.st_size - len(head), 0))
    except MemoryError as exc:
        raise ImageLoadError(file, "not enough memory to decode it") from exc
    except OSError:
        return b""
    finally:
        with contextlib.suppress(OSError):  # what was read stays good; a failed read already fell back
            os.close(fd)


def _read_rest(fd: int, expected: int) -> bytes:
    """The rest of the file: one read when its size held, more when it grew or a read came back short."""
    data = os.read(fd, expected + 1)  # a byte more than expected: an unchanged file is read in one call
    if len(data) == expected:
        return data
    parts = [data]
    while chunk := os.read(fd, 1 << 20):
        parts.append(chunk)
    return b"".join(parts)


def _plain_8bit_image(data: bytes) -> tuple[int, int, bool] | None:
    """``(width, height, grey)`` when OpenCV decodes ``data`` exactly as Pillow's path would, else None."""
    if data.startswith(_PNG_SIGNATURE):
        return _plain_png(data)
    if data.startswith(b"\xff\xd8"):
        return _plain_jpeg(data)
    return None


def _plain_png(data: bytes) -> tuple[int, int, bool] | None:
    if not data.endswith(_PNG_END) or data[12:16] != b"IHDR" or len(data) < 33:
        return None
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    if depth != 8 or colour not in (_PNG_GREY, _PNG_RGB):
        return None
    at = 8
    while at + 8 <= len(data):  # the chunks before the pixel data may change how the pixels read
        length, kind = struct.unpack(">I4s", data[at : at + 8])
        if kind == b"IDAT":
            return width, height, colour == _PNG_GREY
        if kind in _PNG_CHUNKS_WITH_PIXELS_OF_THEIR_OWN:
            return None
        if kind in (b"tEXt", b"zTXt", b"iTXt") and data[at + 8 : at + 8 + length].lower().startswith(b"raw profile type exif"):
            return None  # Pillow reads an EXIF orientation from this text chunk
        at += 12 + length
    return None


def _plain_jpeg(data: bytes) -> tuple[int, int, bool] | None:
    if not data.rstrip(b"\x00").endswith(b"\xff\xd9"):  # no end marker: truncated, Pillow says so
        return None
    at = 2
    while at + 4 <= len(data) and data[at] == 0xFF:
        marker = data[at + 1]
        if marker in _JPEG_NO_LENGTH_MARKERS or marker == 0xFF:
            at += 1 if marker == 0xFF else 2
            continue
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        if marker in _JPEG_FRAME_MARKERS:
            if at + 10 > len(data):
                return None
            precision, height, width, components = struct.unpack(">BHHB", data[at + 4 : at + 10])
            if precision != 8 or components not in (1, 3) or width == 0 or height == 0:
                return None
            upright = _jpeg_upright_size(data[:at], width, height)
            return None if upright is None else (*upright, components == 1)
        if 0xC3 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            return None  # lossless, hierarchical or arithmetic-coded: rare, Pillow's job
        at += 2 + length
    return None


def _jpeg_upright_size(header: bytes, width: int, height: int) -> tuple[int, int] | None:
    """The size after the EXIF orientation, which OpenCV applies as Pillow's path does; None if unreadable."""
    exif = header.find(b"Exif\x00\x00")
    if exif < 0:
        return width, height
    try:
        tags = Image.Exif()
        tags.load(header[exif:])
        turned = tags.get(_EXIF_ORIENTATION, 1) in (5, 6, 7, 8)
    except _DECODE_ERRORS:
        return None
    return (height, width) if turned else (width, height)


def _check_file(file: Path) -> None:
    """The reasons we can give before reading a byte: missing, a folder, empty (a refused size: no permission)."""
    try:
        status = os.stat(file)
    except FileNotFoundError as exc:
        raise ImageLoadError(file, "file not found") from exc
    except PermissionError as exc:
        raise ImageLoadError(file, "permission denied") from exc
    _check_status(file, status)


def _check_status(file: Path, status: os.stat_result) -> None:
    if stat.S_ISDIR(status.st_mode):
        raise ImageLoadError(file, "is a folder")
    if status.st_size == 0:
        raise ImageLoadError(file, "empty file (0 bytes)")


def _check_pixels(file: Path, size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width * height > max_pixels:
        raise ImageLoadError(file, f"image too large: {width}×{height} pixels exceeds the limit of {max_pixels:,}")


def _describe_contents(file: Path) -> str:
    """A hint for "not an image": what the file starts with."""
    try:
        with file.open("rb") as fh:
            head = fh.read(16)
    except OSError:
        return "unknown format"
    if head.isascii() and all(b >= 32 or b in b"\t\r\n" for b in head):
        return f"looks like text: {head.decode('ascii')!r}"
    return f"unknown format, starts with {head[:8].hex(' ')}"


def _upright(image: Image.Image) -> Image.Image:
    """Apply the EXIF orientation; images without one are returned as they are (no copy)."""
    if image.getexif().get(_EXIF_ORIENTATION, 1) in (2, 3, 4, 5, 6, 7, 8):
        return ImageOps.exif_transpose(image)
    return image


def _pil_to_rgb(image: Image.Image) -> np.ndarray:
    """A decoded Pillow image of any mode -> uint8 RGB."""
    mode = image.mode
    has_transparency = "transparency" in image.info
    if mode in _GREY_MODES and not (has_transparency and mode in ("1", "L")):
        raw = np.asarray(image)
        grey = np.array(image.convert("L")) if mode == "1" else grey_to_uint8(raw)
        key = image.info.get("transparency")
        if isinstance(key, int):  # a 16-bit grey PNG's transparent value (tRNS): Pillow's RGBA would clip it
            grey[raw == key] = 0
        return grey_to_rgb(grey)
    try:
        if mode in _ALPHA_MODES or has_transparency:
            return composite_on_black(np.asarray(image.convert("RGBA")))
        return np.array(image if mode == "RGB" else image.convert("RGB"))
    except ValueError as exc:  # Pillow cannot convert some rare modes (LAB, HSV, ...) to RGB
        raise _UnsupportedImage(f"unsupported pixel format (mode {mode})") from exc


def _pil_to_mask(image: Image.Image) -> np.ndarray:
    if image.mode in _GREY_MODES:
        return np.asarray(image) != 0
    return np.any(_pil_to_rgb(image) != 0, axis=2)
