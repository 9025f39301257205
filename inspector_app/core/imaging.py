"""Every pixel conversion the app makes, in one place: files to RGB arrays, resizing, colour scale, overlays.

Detectors, jobs and the GUI all see images the same way only if one module decides how a 16-bit TIFF, a
palette PNG with transparency or an EXIF-rotated JPEG becomes pixels, and how an anomaly map becomes colour.
It uses numpy, OpenCV and Pillow only, no Qt, so the command-line jobs run it on a headless server; turning
an array into a ``QImage`` is one thin function in ``gui/qimage.py``.

Conventions: images are ``uint8`` RGB ``H×W×3`` (C-contiguous), maps are ``float32`` ``H×W``, sizes given as
a pair are ``(width, height)`` like OpenCV and Pillow.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import secrets
import stat
import struct
import warnings
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from inspector_app.core.errors import ImageLoadError

log = logging.getLogger(__name__)

MAX_PIXELS: int = 100_000_000
"""Larger images are refused: a small compressed file can claim billions of pixels (a decompression bomb)."""

HEATMAP_VMAX: float = 2.0
"""Normalised map value drawn at the top of the colour scale (1.0 is the threshold)."""

PASS_COLOUR: tuple[int, int, int] = (46, 160, 67)
FAIL_COLOUR: tuple[int, int, int] = (215, 38, 56)

_T = TypeVar("_T")

# Errors Pillow's decoders raise on damaged data; anything else is a bug of ours and should surface as such.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error, IndexError, KeyError)

_GREY_MODES = frozenset({"1", "L", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"})
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_EXIF_ORIENTATION = 0x0112

_INTERPOLATIONS = {
    "area": cv2.INTER_AREA,
    "linear": cv2.INTER_LINEAR,
    "nearest": cv2.INTER_NEAREST,
    "cubic": cv2.INTER_CUBIC,
}
_RESIZABLE_DTYPES = frozenset(np.dtype(t) for t in (np.uint8, np.uint16, np.int16, np.float32, np.float64, bool))

# Overlay work is done in strips of about this many pixels, small enough to stay in the CPU cache.
_STRIP_PIXELS = 1 << 16

# Overlay: a pixel's heatmap opacity ramps from 0 at this normalised value up to full at the threshold (1.0).
_RAMP_START = 0.3
_FAR = 1e30  # stands for ±inf in a cleaned map: far beyond any colour, still finite when interpolated

# Colour scale anchors as (position, RGB): the cold half spans [0, 1) of the normalised value, the warm half
# spans [1, vmax]; positions are fractions of each half. The jump from green to yellow marks the threshold.
_COLD_ANCHORS = ((0.0, (16, 24, 96)), (0.35, (24, 84, 200)), (0.7, (0, 185, 205)), (1.0, (60, 190, 80)))
_WARM_ANCHORS = ((0.0, (255, 232, 0)), (0.5, (255, 140, 0)), (1.0, (255, 16, 0)))


class _UnsupportedImage(Exception):
    """A decodable file whose pixel format this module cannot turn into RGB (its message is the reason)."""


# --------------------------------------------------------------------------------------------------- loading


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
        grey = np.array(image.convert("L")) if mode == "1" else _grey_to_uint8(raw)
        key = image.info.get("transparency")
        if isinstance(key, int):  # a 16-bit grey PNG's transparent value (tRNS): Pillow's RGBA would clip it
            grey[raw == key] = 0
        return _grey_to_rgb(grey)
    try:
        if mode in _ALPHA_MODES or has_transparency:
            return _composite_on_black(np.asarray(image.convert("RGBA")))
        return np.array(image if mode == "RGB" else image.convert("RGB"))
    except ValueError as exc:  # Pillow cannot convert some rare modes (LAB, HSV, ...) to RGB
        raise _UnsupportedImage(f"unsupported pixel format (mode {mode})") from exc


def _pil_to_mask(image: Image.Image) -> np.ndarray:
    if image.mode in _GREY_MODES:
        return np.asarray(image) != 0
    return np.any(_pil_to_rgb(image) != 0, axis=2)


# ------------------------------------------------------------------------------------------------ conversion


def to_rgb_uint8(array: np.ndarray) -> np.ndarray:
    """Any in-memory image -> ``uint8`` RGB ``H×W×3``, so drawing and saving need one input type only.

    Accepts ``H×W``, ``H×W×1``, ``H×W×3`` and ``H×W×4`` (alpha composited over black, as in
    :func:`load_image`) in ``uint8``, ``uint16`` (scaled by 1/257), float in [0, 1] (clipped; NaN is 0),
    ``bool``, or other integer types holding 0..255. Channel order is taken to be RGB: converting OpenCV's
    BGR camera frames is the caller's job. An input that is already ``uint8`` RGB and C-contiguous is
    returned as it is, not copied.

    Raises:
        ValueError: The shape or dtype cannot be read as an image; the message names what was received.
    """
    arr = np.asarray(array)
    channels = arr.shape[2] if arr.ndim == 3 else 1
    if arr.ndim not in (2, 3) or channels not in (1, 3, 4):
        msg = f"to_rgb_uint8 expects H×W, H×W×1, H×W×3 or H×W×4; got shape {arr.shape} dtype {arr.dtype}"
        raise ValueError(msg)
    arr8 = _array_to_uint8(arr)
    if channels == 1:
        return _grey_to_rgb(arr8.reshape(arr8.shape[:2]))
    if channels == 4:
        return _composite_on_black(arr8)
    return np.ascontiguousarray(arr8)


def _array_to_uint8(arr: np.ndarray) -> np.ndarray:
    kind = arr.dtype.kind
    if arr.dtype == np.uint8:
        return arr
    if kind == "b":
        return arr.view(np.uint8) * np.uint8(255)
    if kind == "u" and arr.dtype.itemsize == 2:
        return _scale16(arr)
    if kind == "f":
        return _unit_to_uint8(arr)
    if kind in "ui":
        lo, hi = (int(arr.min()), int(arr.max())) if arr.size else (0, 0)
        if lo < 0 or hi > 255:
            msg = f"to_rgb_uint8: {arr.dtype} values must lie in 0..255, got {lo}..{hi} (shape {arr.shape})"
            raise ValueError(msg)
        return arr.astype(np.uint8)
    msg = f"to_rgb_uint8 cannot read dtype {arr.dtype} (shape {arr.shape}) as an image"
    raise ValueError(msg)


def _scale16(values: np.ndarray) -> np.ndarray:
    """0..65535 -> 0..255 rounded (v / 257), so 65535 is white and 32768 is mid-grey: scaled, not clipped."""
    wide = values.astype(np.uint32)
    return ((wide * 255 + 32767) // 65535).astype(np.uint8)


def _unit_to_uint8(values: np.ndarray) -> np.ndarray:
    """Float in [0, 1] -> uint8; out-of-range values clip, NaN becomes 0 (fmax/fmin ignore NaN)."""
    scaled = np.multiply(values, 255.0, dtype=np.float32)
    np.fmax(scaled, 0.0, out=scaled)
    np.fmin(scaled, 255.0, out=scaled)
    return np.rint(scaled, out=scaled).astype(np.uint8)


def _grey_to_uint8(values: np.ndarray) -> np.ndarray:
    """16/32-bit integer or float grey -> uint8 by scaling its nominal range into 0..255.

    Integer data within 0..65535 is taken as 16-bit (Pillow's 'I' mode usually holds 16-bit PNG or TIFF
    data); floats carry no declared range, so the smallest of 1, 255 and 65535 that holds the data is used.
    Only data beyond those ranges is scaled by its own maximum.
    """
    if values.dtype == np.uint8:
        return np.array(values)
    if values.dtype.kind in "ui":
        lo, top = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
        if lo >= 0 and top <= 65535:
            return _scale16(values)
    else:
        finite = values[np.isfinite(values)]
        top = float(finite.max()) if finite.size else 1.0
        top = next((limit for limit in (1.0, 255.0, 65535.0) if top <= limit), top)
    return _unit_to_uint8(values.astype(np.float32) / max(top, 1e-12))


def _grey_to_rgb(grey: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(grey), cv2.COLOR_GRAY2RGB)


def _composite_on_black(rgba: np.ndarray) -> np.ndarray:
    """uint8 RGBA -> RGB premultiplied by alpha (rounded), i.e. composited over black."""
    rgb = rgba[..., :3].astype(np.uint16)
    rgb *= rgba[..., 3:4]
    rgb += 127
    rgb //= 255
    return rgb.astype(np.uint8)


# -------------------------------------------------------------------------------------------------- resizing


def resize(image: np.ndarray, size: int | tuple[int, int], interpolation: str = "area") -> np.ndarray:
    """Resize to a square ``size`` or to ``(width, height)``, keeping dtype and channel count.

    ``"area"`` (the default) averages pixels, which is right for shrinking; where it would enlarge an axis,
    bilinear is used instead, because OpenCV's area mode enlarges blockily. ``"linear"``, ``"nearest"`` and
    ``"cubic"`` are used as asked. ``bool`` masks come back ``bool`` (resampled, then cut at one half).

    Raises:
        ValueError: Unknown interpolation, a size that is not positive, or an unsupported dtype.
    """
    width, height = _size_pair(size)
    arr = np.asarray(image)
    if arr.dtype not in _RESIZABLE_DTYPES or arr.ndim not in (2, 3) or 0 in arr.shape:
        dtypes = ", ".join(sorted(map(str, _RESIZABLE_DTYPES)))
        msg = f"resize expects a non-empty H×W or H×W×C image of {dtypes}; got shape {arr.shape} dtype {arr.dtype}"
        raise ValueError(msg)
    flag = _interpolation_flag(interpolation, enlarging=width > arr.shape[1] or height > arr.shape[0])
    src = arr.view(np.uint8) * np.uint8(255) if arr.dtype == bool else arr
    out = cv2.resize(src, (width, height), interpolation=flag)
    if arr.ndim == 3 and out.ndim == 2:  # OpenCV drops a single channel axis
        out = out[:, :, None]
    return out >= 128 if arr.dtype == bool else out


def resize_map(map_: np.ndarray, height: int, width: int) -> np.ndarray:
    """A float map -> ``float32`` ``(height, width)``: bilinear when enlarging (anomaly maps to the input).

    When shrinking both axes, pixel areas are averaged instead, so a small hot spot is not skipped over.

    Raises:
        ValueError: The map is not 2-D (``H×W×1`` is accepted) or the size is not positive.
    """
    m = finite_map(_as_map(map_, "resize_map"))
    _size_pair((width, height))
    shrinking = height <= m.shape[0] and width <= m.shape[1]
    flag = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(m, (int(width), int(height)), interpolation=flag)


def shrink_map_by_max(map_: np.ndarray, factor: int) -> np.ndarray:
    """Shrink a map by a whole ``factor``, each k×k block becoming its largest value (NaN ignored).

    For drawing a map smaller than its frame: averaging would let a hot spot narrower than a block fall
    below the threshold, so a failing part could show no outline and the wrong colour. Rows and columns
    beyond the last whole block are dropped. ``bool`` masks stay ``bool`` (a block is set if any pixel is).
    """
    m = np.asarray(map_)
    if m.ndim == 3 and m.shape[2] == 1:
        m = m[:, :, 0]
    k = int(factor)
    if m.ndim != 2 or k < 1 or m.shape[0] < k or m.shape[1] < k:
        msg = f"shrink_map_by_max needs a 2-D map of at least {factor}×{factor}, got shape {np.shape(map_)}"
        raise ValueError(msg)
    if k == 1:
        return m
    whole = m[: m.shape[0] // k * k, : m.shape[1] // k * k]
    out = whole[0::k, 0::k].copy()
    for dy in range(k):
        for dx in range(k):
            if dy or dx:
                np.fmax(out, whole[dy::k, dx::k], out=out)
    return out


def thumbnail(image: np.ndarray, max_side: int = 160) -> np.ndarray:
    """Shrink so the longer side is ``max_side``, keeping the aspect ratio; never enlarges (returns a copy)."""
    arr = np.asarray(image)
    height, width = arr.shape[:2]
    scale = max_side / max(height, width, 1)
    if scale >= 1.0:
        return arr.copy()
    return resize(arr, (max(1, round(width * scale)), max(1, round(height * scale))), "area")


def _size_pair(size: int | tuple[int, int]) -> tuple[int, int]:
    width, height = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
    if int(width) < 1 or int(height) < 1:
        msg = f"size must be positive (width, height), got {size!r}"
        raise ValueError(msg)
    return int(width), int(height)


def _interpolation_flag(name: str, *, enlarging: bool) -> int:
    if name not in _INTERPOLATIONS:
        msg = f"interpolation must be one of {sorted(_INTERPOLATIONS)}, got {name!r}"
        raise ValueError(msg)
    if name == "area" and enlarging:
        return cv2.INTER_LINEAR
    return _INTERPOLATIONS[name]


def finite_map(map_: np.ndarray) -> np.ndarray:
    """A float32 copy with NaN as 0 and ±inf as ±1e30, so interpolation and comparisons see finite numbers.

    A NaN pixel is a model's failure, not an anomaly: it must not paint or outline as one. OpenCV does not
    document what its resizing and clamping do with NaN or inf (and it changed between releases).
    """
    m = np.array(map_, np.float32)
    cv2.patchNaNs(m, 0.0)
    return np.clip(m, -_FAR, _FAR, out=m)


def _as_map(map_: np.ndarray, caller: str) -> np.ndarray:
    m = np.asarray(map_, dtype=np.float32)
    if m.ndim == 3 and m.shape[2] == 1:
        m = m[:, :, 0]
    if m.ndim != 2 or 0 in m.shape:
        msg = f"{caller} expects a 2-D H×W map, got shape {np.shape(map_)}"
        raise ValueError(msg)
    return m


# ------------------------------------------------------------------------------------------------------ saving


def save_image(path: str | os.PathLike[str], image: np.ndarray) -> None:
    """Write an image losslessly (PNG, or the format the extension names), atomically.

    The file is written under a temporary name in the same folder and then renamed over ``path``, so a reader
    (or a crash of the app) never sees half a file. 2-D ``uint8`` is saved as greyscale; anything else goes
    through :func:`to_rgb_uint8` and is saved as 8-bit RGB. JPEG is written at quality 95 (lossy by nature).

    Raises:
        ValueError: The extension names no format Pillow can write, or the array is not an image.
        OSError: The folder does not exist or is not writable.
    """
    target = Path(path)
    fmt = Image.registered_extensions().get(target.suffix.lower())
    if fmt is None or fmt not in Image.SAVE:
        msg = f"cannot save {target}: no image format for the extension {target.suffix!r} (use .png)"
        raise ValueError(msg)
    picture = Image.fromarray(_for_saving(image))
    temporary = target.with_name(f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        with temporary.open("xb") as fh:  # "x": never clobber; the umask gives the usual permissions
            picture.save(fh, format=fmt, **_save_options(fmt))
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _for_saving(image: np.ndarray) -> np.ndarray:
    arr = np.asarray(image)
    if arr.dtype == np.uint8 and (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] == 1)):
        return np.ascontiguousarray(arr.reshape(arr.shape[:2]))
    return to_rgb_uint8(arr)


def _save_options(fmt: str) -> dict[str, object]:
    if fmt == "PNG":
        return {"compress_level": 3}  # about half the time of Pillow's default (6), files 10-20 % larger
    if fmt == "JPEG":
        return {"quality": 95}
    return {}


# ---------------------------------------------------------------------------------------------------- drawing


def heatmap_rgb(norm_map: np.ndarray, vmax: float = HEATMAP_VMAX) -> np.ndarray:
    """Normalised map -> ``uint8`` RGB on one fixed colour scale, the same for every frame and every model.

    0 (a typical good pixel) is dark blue, rising through cyan to green just below 1.0 (the threshold),
    where the colour jumps to yellow, then orange, to red at ``vmax``. Values below 0 draw as 0, values
    above ``vmax`` (and +inf) as ``vmax``, NaN as 0. The scale never adapts to the frame (no min-max), so a
    colour always means the same value. A 256-entry lookup table is built once per ``vmax``.

    Raises:
        ValueError: The map is not 2-D, or ``vmax`` is not within (1, 256].
    """
    index = _map_to_index(_as_map(norm_map, "heatmap_rgb"), vmax)
    return _lookup_rgb(index, _colour_table(vmax))


def overlay_heatmap(image: np.ndarray, norm_map: np.ndarray, opacity: float = 0.5) -> np.ndarray:
    """Blend :func:`heatmap_rgb` over a picture so anomalies stand out and a good part stays clean.

    Each pixel's heatmap opacity is ``opacity`` times a ramp from 0 (value <= 0.3) to 1 (value >= 1.0),
    so a good part is left as it is. A map of another size is resized (bilinear) to the image first.

    Args:
        image: The picture, ``uint8`` RGB (anything :func:`to_rgb_uint8` accepts).
        norm_map: Map normalised by the threshold (1.0 = the threshold).
        opacity: Heatmap opacity at and above the threshold, 0..1.

    Returns:
        A new ``uint8`` RGB array of the image's size.
    """
    rgb = to_rgb_uint8(image)
    out = np.empty_like(rgb)
    for top, strip in _overlay_strips(rgb, norm_map, opacity):
        out[top : top + len(strip)] = strip
    return out


def heat_layer_bgra(norm_map: np.ndarray, opacity: float, out: np.ndarray) -> list[tuple[int, int, int, int]]:
    """The overlay of :func:`overlay_heatmap` as a layer to lay over the picture, written into ``out``.

    ``out`` (``uint8`` H×W×4, the picture's size; the map is resized to it when it differs) gets bytes
    B, G, R, A per pixel with the colour already multiplied by its opacity (Qt's ``ARGB32_Premultiplied``
    layout on a little-endian machine). Laying it over the picture with the usual "source over" rule,
    ``layer + picture · (255 − A) / 255`` rounded, gives exactly what :func:`overlay_heatmap` returns, and a
    display can do that blend itself: at 1280×1024 Qt's raster painter took 0.4–0.8 ms here, OpenCV's
    per-pixel multiply and add about 2 ms.

    Only the regions returned are written, as ``(x, y, width, height)``: per strip of rows, the columns that
    hold a pixel above the ramp's start; none on a good part, where there is nothing to lay over.
    """
    _check_quads(out, None, "layer")
    m = _as_map(norm_map, "heat_layer_bgra")  # a bad map is refused whatever the opacity, as by overlay_heatmap
    height, width = out.shape[:2]
    if not opacity > 0 or height == 0 or width == 0:  # NaN opacity included
        return []
    m = _map_for(m, height, width, "heat_layer_bgra")
    table = _layer_table(float(min(opacity, 1.0)), HEATMAP_VMAX)
    words = out.view(np.int32).reshape(height, width)
    regions = []
    step = _strip_rows(width)
    for top in range(0, height, step):
        found = _columns_to_blend(m[top : top + step])
        if found is not None:
            index, cols = found
            cv2.LUT(index, table, dst=words[top : top + len(index), cols])
            regions.append((cols.start, top, cols.stop - cols.start, len(index)))
    return regions


def rgb_to_bgrx(image: np.ndarray, out: np.ndarray) -> None:
    """Write a picture into ``out`` (``uint8`` H×W×4) as bytes B, G, R, 255.

    That is how a 32-bit ``0xffRRGGBB`` pixel lies in memory on a little-endian machine, the layout a screen
    draws from, so a display can show the result without converting it again.
    """
    _check_quads(out, np.shape(image)[:2], "output")
    cv2.cvtColor(to_rgb_uint8(image), cv2.COLOR_RGB2BGRA, dst=out)


def _check_quads(out: np.ndarray, size: tuple[int, ...] | None, what: str) -> None:
    """Refuse an ``out`` that is not a writable C-contiguous uint8 H×W×4 array (of ``size`` H×W when given)."""
    shape_ok = np.ndim(out) == 3 and out.shape[2] == 4 and (size is None or out.shape[:2] == tuple(size))
    if out.dtype != np.uint8 or not shape_ok or not out.flags.c_contiguous or not out.flags.writeable:
        wanted = "H×W" if size is None else "×".join(str(n) for n in size)
        msg = f"{what} must be a writable C-contiguous uint8 {wanted}×4 array, got {out.dtype} {np.shape(out)}"
        raise ValueError(msg)


def _overlay_strips(rgb: np.ndarray, norm_map: np.ndarray, opacity: float) -> Iterator[tuple[int, np.ndarray]]:
    """The overlaid picture as (first row, RGB rows) strips that fit in the CPU cache, top to bottom.

    A strip with nothing above the ramp's start is the picture's own rows (a view, not a copy).
    """
    m = _map_for(norm_map, *rgb.shape[:2], "overlay_heatmap")
    tables = _blend_tables(float(min(opacity, 1.0)), HEATMAP_VMAX) if opacity > 0 else None  # NaN: none
    step = _strip_rows(rgb.shape[1])
    for top in range(0, len(rgb), step):
        rows = rgb[top : top + step]
        yield top, rows if tables is None else _blend_strip(rows, m[top : top + step], tables)


def _map_for(norm_map: np.ndarray, height: int, width: int, caller: str) -> np.ndarray:
    """The map as float32 at the picture's size (bilinear when it is not)."""
    m = _as_map(norm_map, caller)
    return m if m.shape == (height, width) else resize_map(m, height, width)


def _strip_rows(width: int) -> int:
    """Rows per strip: a strip's map, indices and colours stay in the CPU cache while it is blended."""
    return max(1, _STRIP_PIXELS // width)


def draw_mask_contours(
    image: np.ndarray,
    mask: np.ndarray,
    colour: tuple[int, int, int] = (255, 40, 40),
    thickness: int = 2,
    level: float = 0.5,
) -> np.ndarray:
    """Outline the regions where ``mask >= level``, leaving the pixels inside visible.

    Args:
        image: The picture (anything :func:`to_rgb_uint8` accepts).
        mask: ``bool`` mask or float map; resized to the image if needed (nearest for bool, else bilinear).
        colour: RGB of the outline.
        thickness: Line width in pixels.
        level: Values at or above this are inside.

    Returns:
        A new ``uint8`` RGB array.
    """
    out = to_rgb_uint8(image).copy()
    height, width = out.shape[:2]
    m = np.asarray(mask)
    if m.dtype == bool:
        inside = m if m.shape == (height, width) else resize(m, (width, height), "nearest")
    else:
        values = _as_map(m, "draw_mask_contours")
        if values.shape != (height, width):
            values = resize_map(values, height, width)
        inside = values >= level
    contours, _ = cv2.findContours(inside.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    if contours:
        cv2.drawContours(out, contours, -1, tuple(int(c) for c in colour), int(thickness))
    return out


def verdict_colour(failed: bool) -> tuple[int, int, int]:
    """The one green/red the app uses for PASS and FAIL everywhere."""
    return FAIL_COLOUR if failed else PASS_COLOUR


def _bins_below_threshold(vmax: float) -> int:
    """How many of the 256 table entries lie below 1.0; 1.0 always falls exactly on an entry's edge."""
    if not 1.0 < vmax <= 256.0:
        msg = f"vmax must be above 1.0 (the threshold) and at most 256, got {vmax!r}"
        raise ValueError(msg)
    return int(min(max(round(256.0 / vmax), 1), 255))


def _map_to_index(m: np.ndarray, vmax: float) -> np.ndarray:
    """float32 map -> uint8 table index; index < bins_below_threshold exactly when value < 1.0.

    Entry i holds the values from i / bins up to (i + 1) / bins. Only operations whose NaN and inf handling
    is documented are used (OpenCV changed what its clamping does with NaN): NaN, a model's failure rather
    than an anomaly, takes the coldest entry; ±inf clip to the ends.
    """
    bins = _bins_below_threshold(vmax)
    with np.errstate(over="ignore"):  # a huge value times bins is +inf, which the clamping below handles
        values = np.multiply(m, np.float32(bins))
    cv2.patchNaNs(values, 0.0)  # before clamping: OpenCV documents its thresholds for numbers, not NaN
    cv2.threshold(values, 0.0, 0.0, cv2.THRESH_TOZERO, dst=values)  # below 0 (and -inf) -> 0
    cv2.threshold(values, 255.0, 0.0, cv2.THRESH_TRUNC, dst=values)  # above 255 (and +inf) -> 255
    index = values.astype(np.uint8)  # truncation is floor: every value is in [0, 255]
    if bins & (bins - 1):  # not a power of two: value · bins can round up to bins for a value just below 1.0
        np.minimum(index, bins - 1, out=index, where=m < 1.0)
    return index


def _lookup_rgb(index: np.ndarray, packed: np.ndarray) -> np.ndarray:
    """Index -> RGB through a table of 4-byte entries: one 1-channel cv2.LUT is much faster than a 3-channel one."""
    quad = cv2.LUT(index, packed).view(np.uint8).reshape(*index.shape, 4)
    return cv2.cvtColor(quad, cv2.COLOR_RGBA2RGB)


def _pack(rgb: np.ndarray) -> np.ndarray:
    """256×3 uint8 -> 256 int32 whose bytes are R, G, B, 0 (read back with a byte view, so endianness-free)."""
    quad = np.zeros((256, 4), np.uint8)
    quad[:, :3] = rgb
    return _packed_quads(quad)


def _packed_quads(quad: np.ndarray) -> np.ndarray:
    """256×4 uint8 -> 256 read-only int32, each holding one row's 4 bytes in order (a one-channel LUT)."""
    packed = np.ascontiguousarray(quad, np.uint8).view(np.int32).reshape(256)
    packed.flags.writeable = False
    return packed


def _colour_scale(vmax: float) -> np.ndarray:
    """The 256 colours of the scale for one ``vmax`` as 256×3 uint8: entry i stands for values from i / bins."""
    below = _bins_below_threshold(vmax)
    cold = _interpolate(_COLD_ANCHORS, np.arange(below) / below)
    warm = _interpolate(_WARM_ANCHORS, np.arange(256 - below) / max(255 - below, 1))
    return np.concatenate([cold, warm])


@functools.lru_cache(maxsize=8)
def _colour_table(vmax: float) -> np.ndarray:
    """The colour scale, built once per ``vmax``, packed for :func:`_lookup_rgb`."""
    return _pack(_colour_scale(vmax))


def _blend_strip(rows: np.ndarray, m: np.ndarray, tables: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """One strip with the heatmap blended in: ``image * (1 - alpha) + heat * alpha``; ``rows`` is not written.

    Working in strips that fit in the CPU cache makes this about twice as fast as whole-frame operations,
    and only the columns holding pixels above the ramp's start are touched (on a good part, none are, and
    ``rows`` itself is returned).
    """
    found = _columns_to_blend(m)
    if found is None:
        return rows
    index, cols = found
    keep, add = tables
    blended = cv2.multiply(rows[:, cols], _lookup_rgb(index, keep), scale=1.0 / 255.0)
    blended = cv2.add(blended, _lookup_rgb(index, add), dst=blended)
    if blended.shape[1] == rows.shape[1]:
        return blended
    out = rows.copy()
    out[:, cols] = blended
    return out


def _columns_to_blend(m: np.ndarray) -> tuple[np.ndarray, slice] | None:
    """The table index of the columns holding a pixel above the ramp's start, and those columns; None if none."""
    index = _map_to_index(m, HEATMAP_VMAX)
    x, _, w, _ = cv2.boundingRect((index >= _first_ramp_index(HEATMAP_VMAX)).view(np.uint8))
    if w == 0:
        return None
    cols = slice(x, x + w)
    return index[:, cols], cols


def _first_ramp_index(vmax: float) -> int:
    """The lowest table index whose overlay opacity can be above zero."""
    return int(np.ceil(_RAMP_START * _bins_below_threshold(vmax)))


@functools.lru_cache(maxsize=16)
def _blend_tables(opacity: float, vmax: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-index (image weight ×255, heat colour × alpha) tables, packed for :func:`_lookup_rgb`."""
    values = np.arange(256) / _bins_below_threshold(vmax)
    alpha = np.rint(255 * opacity * np.clip((values - _RAMP_START) / (1.0 - _RAMP_START), 0.0, 1.0)) / 255
    colours = _colour_scale(vmax)
    keep = np.repeat(np.rint(255 * (1 - alpha))[:, None], 3, axis=1).astype(np.uint8)
    add = np.rint(colours * alpha[:, None]).astype(np.uint8)
    return _pack(keep), _pack(add)


@functools.lru_cache(maxsize=16)
def _layer_table(opacity: float, vmax: float) -> np.ndarray:
    """Per-index premultiplied colour as bytes B, G, R, A (A = 255 − the image weight), packed for cv2.LUT."""
    keep, add = (table.view(np.uint8).reshape(256, 4) for table in _blend_tables(opacity, vmax))
    quad = add[:, [2, 1, 0, 3]]
    quad[:, 3] = 255 - keep[:, 0]
    return _packed_quads(quad)


def _interpolate(anchors: tuple[tuple[float, tuple[int, int, int]], ...], positions: np.ndarray) -> np.ndarray:
    stops = [p for p, _ in anchors]
    channels = [np.interp(positions, stops, [rgb[c] for _, rgb in anchors]) for c in range(3)]
    return np.rint(np.stack(channels, axis=1)).astype(np.uint8)
