"""Image files -> ``uint8`` RGB pictures and ``bool`` defect masks, with the reason when a file cannot be read.

Every file goes through Pillow, so a 16-bit TIFF, a palette PNG with transparency or an EXIF-rotated JPEG
becomes the same pixels wherever the app reads it.
"""

from __future__ import annotations

import logging
import os
import stat
import struct
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

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
    """A decodable file whose pixel format cannot be turned into RGB (its message is the reason)."""


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
    return _decode(Path(path), max_pixels, _pil_to_rgb)


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
    mask = _decode(Path(path), MAX_PIXELS, _pil_to_mask)
    if size is not None and (mask.shape[1], mask.shape[0]) != tuple(size):
        mask = resize(mask, size, "nearest")
    return mask


def _decode(file: Path, max_pixels: int, convert: Callable[[Image.Image], _T]) -> _T:
    """Check, open, fully decode and convert one file, turning every failure into an ImageLoadError."""
    _check_file(file)
    try:
        handle = file.open("rb")  # opened here, so an OS error (a symlink loop, a lost share) is named as such
    except OSError as exc:
        raise ImageLoadError(file, _os_reason(exc)) from exc
    try:
        # Our own max_pixels check replaces Pillow's warning band (89 to 179 megapixels), and Pillow's own
        # warnings about damage it reads past (corrupt EXIF) say nothing the pixels do not: neither is shown.
        # The filters are only for those categories, so the usual thread-safety caveat of catch_warnings is harmless.
        with handle, warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
            with Image.open(handle) as image:
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


def _check_file(file: Path) -> None:
    """The reasons we can give without opening the file: missing, a folder, empty.

    Its size needs no permission to read, so an unreadable empty file still says it is empty, and a named
    pipe (size 0) is refused without waiting for a writer.
    """
    try:
        status = file.stat()
    except OSError as exc:  # missing, no permission, a symlink loop, a name too long, a dropped share...
        raise ImageLoadError(file, _os_reason(exc)) from exc
    except ValueError as exc:  # a name holding a NUL byte
        raise ImageLoadError(file, f"invalid file name ({exc})") from exc
    if stat.S_ISDIR(status.st_mode):
        raise ImageLoadError(file, "is a folder")
    if status.st_size == 0:
        raise ImageLoadError(file, "empty file (0 bytes)")
    if not stat.S_ISREG(status.st_mode):
        raise ImageLoadError(file, "not a regular file (a device, pipe or socket)")


def _os_reason(exc: OSError) -> str:
    """The operating system's reason in words: "file not found", "too many levels of symbolic links"..."""
    if isinstance(exc, FileNotFoundError):
        return "file not found"
    if isinstance(exc, PermissionError):
        return "permission denied"
    text = exc.strerror or type(exc).__name__
    return text[0].lower() + text[1:]


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
